// These packages ship no types; these are the parts the local stack uses.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
  }
  export default function dynalite(options?: DynaliteOptions): Server;
}

declare module '@20minutes/s3rver' {
  import type { EventEmitter } from 'node:events';
  import type { Server } from 'node:http';
  import type { AddressInfo } from 'node:net';
  import type { Readable } from 'node:stream';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }
  type Middleware = (
    ctx: {
      method: string;
      path: string;
      query: Record<string, string>;
      headers: Record<string, string | undefined>;
      status: number;
      body: unknown;
      type: string;
      /** The request body; the POST-form check hands s3rver the bytes it has read. */
      req: Readable;
      set(field: string, value: string): void;
    },
    next: () => Promise<void>,
  ) => Promise<void> | void;
  export default class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    middleware: Middleware[];
    httpServer?: Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}

// s3rver's multipart parser (busboy 1.x), which the local S3 uses to check POST forms.
declare module 'busboy' {
  import type { IncomingHttpHeaders } from 'node:http';
  import type { Readable, Writable } from 'node:stream';

  interface FieldInfo {
    nameTruncated: boolean;
    valueTruncated: boolean;
  }
  interface Busboy extends Writable {
    on(event: 'field', listener: (name: string, value: string, info: FieldInfo) => void): this;
    on(event: 'file', listener: (name: string, stream: Readable) => void): this;
    on(event: 'error', listener: (error: unknown) => void): this;
    on(event: 'finish', listener: () => void): this;
  }
  export default function busboy(config: { headers: IncomingHttpHeaders }): Busboy;
}
