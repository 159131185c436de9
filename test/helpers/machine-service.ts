/** True when one of the machine's services answers `probe`; under CI=true its absence is a failure, not a skip. */
export async function machineServiceAnswers(name: string, url: string, probe: () => Promise<void>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    if (process.env.CI === 'true') throw new Error(`${name} is required under CI but did not answer: ${(error as Error).message}`);
    console.warn(`Skipping ${name} tests: ${url} did not answer (${(error as Error).message}).`);
    return false;
  }
}
