/**
 * The one list of audio formats the product accepts. The core judges a file by its content
 * (`detectFormat`); the API checks a declared `fileName` extension and `contentType` against this list
 * before issuing an upload URL; the web page, OpenAPI and the docs show it. A plain constant so any of
 * them (e.g. generated OpenAPI) can import it.
 */
export const UPLOAD_FORMATS = [
  {
    name: 'WAV',
    formats: ['wav'],
    extensions: ['wav', 'wave'],
    contentTypes: ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'],
  },
  {
    name: 'AIFF',
    formats: ['aiff'],
    extensions: ['aif', 'aiff', 'aifc'],
    contentTypes: ['audio/aiff', 'audio/x-aiff', 'audio/aifc', 'audio/x-aifc'],
  },
  { name: 'FLAC', formats: ['flac'], extensions: ['flac'], contentTypes: ['audio/flac', 'audio/x-flac'] },
  {
    name: 'MP3',
    formats: ['mp3'],
    extensions: ['mp3'],
    contentTypes: ['audio/mpeg', 'audio/mp3', 'audio/mpeg3', 'audio/x-mpeg-3'],
  },
  {
    name: 'Ogg Vorbis / Opus',
    formats: ['ogg-vorbis', 'ogg-opus'],
    extensions: ['ogg', 'oga', 'opus'],
    contentTypes: ['audio/ogg', 'application/ogg', 'audio/opus', 'audio/vorbis'],
  },
  {
    name: 'MP4 / M4A / MOV (AAC, Opus, MP3)',
    formats: ['mp4'],
    extensions: ['m4a', 'mp4', 'm4v', 'mov', '3gp'],
    contentTypes: [
      'audio/mp4',
      'audio/x-m4a',
      'audio/m4a',
      'video/mp4',
      'video/x-m4v',
      'video/quicktime',
      'audio/3gpp',
      'video/3gpp',
    ],
  },
  {
    name: 'WebM / Matroska (Opus, Vorbis)',
    formats: ['webm'],
    // .weba: Chrome's name for an audio/webm download. audio/ and video/matroska: RFC 9559's registered
    // types, which Chrome reports for .mka/.mkv; the x- forms are older ones.
    extensions: ['webm', 'weba', 'mkv', 'mka'],
    contentTypes: [
      'audio/webm',
      'video/webm',
      'audio/matroska',
      'video/matroska',
      'audio/x-matroska',
      'video/x-matroska',
    ],
  },
] as const;

export type UploadFormat = (typeof UPLOAD_FORMATS)[number];

/** What `detectFormat` recognises from magic bytes and `decodeAudio` decodes (codec-level for Ogg). */
export type AudioFormat = UploadFormat['formats'][number];

/** Every accepted extension (lower case, no dot). */
export const UPLOAD_EXTENSIONS: readonly string[] = UPLOAD_FORMATS.flatMap((f) => [...f.extensions]);

/** Every accepted content type (lower case, no parameters). */
export const UPLOAD_CONTENT_TYPES: readonly string[] = UPLOAD_FORMATS.flatMap((f) => [...f.contentTypes]);

/** The list's entry for a file name's extension, if accepted. */
export const uploadFormatOfFileName = (fileName: string): UploadFormat | undefined => {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0) return undefined;
  const extension = fileName.slice(dot + 1).toLowerCase();
  return UPLOAD_FORMATS.find((f) => (f.extensions as readonly string[]).includes(extension));
};

/** `audio/wav; codecs=1` → `audio/wav`; `undefined` when the type is not on the list. */
export function uploadContentType(contentType: string): string | undefined {
  const bare = contentType.split(';')[0]!.trim().toLowerCase();
  return UPLOAD_CONTENT_TYPES.includes(bare) ? bare : undefined;
}

/** One line for messages and docs: "WAV, AIFF, FLAC, …". */
export const UPLOAD_FORMAT_NAMES = UPLOAD_FORMATS.map((f) => f.name).join(', ');
