// pidusage 4.1 ships no type declarations; this covers the one call the sampler makes.
declare module "pidusage" {
  namespace pidusage {
    interface Status {
      /** Percent of one core since the previous call for this pid. */
      cpu: number;
      /** Resident set size in bytes. */
      memory: number;
      ppid: number;
      pid: number;
      ctime: number;
      elapsed: number;
      timestamp: number;
    }
    interface Options {
      maxage?: number;
      usePs?: boolean;
    }
  }
  function pidusage(
    pids: number[],
    options?: pidusage.Options,
  ): Promise<Record<number, pidusage.Status | null | undefined>>;
  export = pidusage;
}
