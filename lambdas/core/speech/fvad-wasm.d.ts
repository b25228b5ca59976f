declare module '@echogarden/fvad-wasm' {
  /** The emscripten module of libfvad (WebRTC's voice-activity detector). */
  export interface FvadModule {
    _fvad_new(): number;
    _fvad_free(instance: number): void;
    _fvad_reset(instance: number): void;
    _fvad_set_mode(instance: number, mode: number): number;
    _fvad_set_sample_rate(instance: number, sampleRate: number): number;
    _fvad_process(instance: number, framePointer: number, length: number): number;
    _malloc(bytes: number): number;
    _free(pointer: number): void;
    HEAP16: Int16Array;
  }
  export default function fvad(moduleArg?: object): Promise<FvadModule>;
}
