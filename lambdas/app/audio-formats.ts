/** The audio formats the core decodes, by file extension, with the content types clients declare for them. */
export const AUDIO_FORMATS = {
  wav: { contentType: 'audio/wav', aliases: ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'] },
  mp3: { contentType: 'audio/mpeg', aliases: ['audio/mpeg', 'audio/mp3', 'audio/mpeg3', 'audio/x-mpeg-3'] },
  ogg: { contentType: 'audio/ogg', aliases: ['audio/ogg', 'application/ogg', 'audio/opus', 'audio/vorbis'] },
  flac: { contentType: 'audio/flac', aliases: ['audio/flac', 'audio/x-flac'] },
} as const;

export type AudioFormat = keyof typeof AUDIO_FORMATS;

const EXTENSIONS: Record<string, AudioFormat> = {
  wav: 'wav',
  mp3: 'mp3',
  ogg: 'ogg',
  oga: 'ogg',
  opus: 'ogg',
  flac: 'flac',
};

export const SUPPORTED_EXTENSIONS = Object.keys(EXTENSIONS);
export const SUPPORTED_CONTENT_TYPES: readonly string[] = Object.values(AUDIO_FORMATS).flatMap((f) => [
  ...f.aliases,
]);

export function formatOfFileName(fileName: string): AudioFormat | undefined {
  const dot = fileName.lastIndexOf('.');
  return dot < 0 ? undefined : EXTENSIONS[fileName.slice(dot + 1).toLowerCase()];
}

/** `audio/wav; codecs=1` → `audio/wav`; `undefined` when the type is not one the core decodes. */
export function normalizeContentType(contentType: string): string | undefined {
  const bare = contentType.split(';')[0]!.trim().toLowerCase();
  return SUPPORTED_CONTENT_TYPES.includes(bare) ? bare : undefined;
}
