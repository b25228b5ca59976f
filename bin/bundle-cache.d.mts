export interface BundleSpec {
  /** The TypeScript entry. */
  entry: string;
  /** The repository: packages resolve from its node_modules, where the bundle is cached. */
  root: string;
  /** The bundle's name in node_modules/.cache/ser/. */
  name: string;
  /** Packages left as imports; without this list every package is. */
  external?: string[];
  /** JavaScript put before the bundle (e.g. a `require` for CommonJS packages bundled into ESM). */
  banner?: string;
  /** Split at dynamic imports, so each is loaded (with its packages) only when reached. */
  splitting?: boolean;
}

/** The URL of the bundle's entry, built first if missing or stale. */
export function freshBundle(spec: BundleSpec): Promise<URL>;
