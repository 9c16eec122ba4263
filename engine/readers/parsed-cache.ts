import { statSync } from 'node:fs';

/**
 * The last file a whole-file reader parsed in `check`, so the `read` that follows does not parse it
 * again. One entry only: holding every checked workbook until its turn would hold all inputs at once.
 */
export class LastParsed<T> {
  private key: string | undefined;
  private value: T | undefined;

  private static keyOf(file: string, variant: string): string {
    const st = statSync(file);
    return `${file}\0${st.size}\0${st.mtimeMs}\0${variant}`;
  }

  /** `variant` tells apart parses of one file with different options (another sheet). */
  async get(file: string, parse: () => Promise<T>, variant = ''): Promise<T> {
    const key = LastParsed.keyOf(file, variant);
    if (key === this.key) return this.value as T;
    const value = await parse();
    this.key = key;
    this.value = value;
    return value;
  }

  /** Like `get`, but lets go of the value: `read` is its last user. */
  async take(file: string, parse: () => Promise<T>, variant = ''): Promise<T> {
    const value = await this.get(file, parse, variant);
    this.key = undefined;
    this.value = undefined;
    return value;
  }
}
