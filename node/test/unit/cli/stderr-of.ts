// What a CLI verb writes to stderr: the verb tests check its exit code and its message together.

/** Runs `run(argv)`, returning its exit code and what it wrote to stderr. */
export async function stderrOf(run: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; text: string }> {
  const write = process.stderr.write;
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { text += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    return { code: await run(argv), text };
  } finally {
    process.stderr.write = write;
  }
}
