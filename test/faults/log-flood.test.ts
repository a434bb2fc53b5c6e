/**
 * A backend writing logs as fast as it can for 30 s: rotation keeps the log directory under
 * `max_bytes × files` the whole time (sampled throughout), and the daemon keeps answering.
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stopAll } from "../support/daemon-harness.js";
import {
  configText,
  dirBytes,
  logLines,
  MiB,
  mib,
  removeDaemonDirs,
  report,
  rssBytes,
  runtimeView,
  startFaultDaemon,
  stubRuntime,
} from "./fault-support.js";

const FLOOD_MS = 30_000;
const SAMPLE_MS = 100;
const MAX_BYTES = MiB;
const FILES = 3;
const BOUND = MAX_BYTES * FILES;

afterEach(async () => {
  await stopAll();
  await removeDaemonDirs();
});

/** The chatter's line counter ("chatty log line N"): how many lines the stub has produced so far. */
function lastChattyLine(lines: string[]): number {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /chatty log line (\d+)/.exec(lines[i] as string);
    if (m) return Number(m[1]);
  }
  return 0;
}

describe("a backend flooding its log", () => {
  it(
    `keeps the log directory under ${FILES} × ${MAX_BYTES / MiB} MiB during ${FLOOD_MS / 1000} s at full speed`,
    async () => {
      const h = await startFaultDaemon({
        config: configText({
          runtimes: [
            stubRuntime("chatty", ["--stub-chatty-bytes-per-sec", "max"], {
              auto_start: true,
              logs: { max_bytes: "1MB", files: FILES },
            }),
          ],
        }),
        ready: ["chatty"],
      });
      const logsDir = path.join(h.stateDir, "logs");
      const started = Date.now();
      let samples = 0;
      let peak = 0;
      let peakFiles: Record<string, number> = {};
      let statusCalls = 0;
      // Lines produced, summed over stub instances (the counter restarts if the stub is restarted).
      let linesProduced = 0;
      let lastCounter = 0;
      const countLines = async () => {
        const counter = lastChattyLine(await logLines(h, "chatty", 3));
        linesProduced += counter >= lastCounter ? counter - lastCounter : counter;
        lastCounter = counter;
      };
      const namesSeen = new Set<string>();
      while (Date.now() - started < FLOOD_MS) {
        const { total, files } = await dirBytes(logsDir);
        samples += 1;
        for (const name of Object.keys(files)) namesSeen.add(name);
        if (total > peak) {
          peak = total;
          peakFiles = files;
        }
        // Fail at the first sample over the bound, with what was on disk at that moment.
        if (total > BOUND) {
          expect(
            total,
            `sample ${samples} at ${Date.now() - started} ms: ${total} bytes on disk ${JSON.stringify(files)}`,
          ).toBeLessThanOrEqual(BOUND);
        }
        if (samples % 10 === 0) {
          await runtimeView(h, "chatty"); // the daemon keeps answering while its child floods
          statusCalls += 1;
          await countLines();
        }
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
      await countLines();
      const view = await runtimeView(h, "chatty");
      const rss = rssBytes(h.pid);
      const final = await dirBytes(logsDir);
      const figures = `${samples} samples over ${FLOOD_MS} ms, peak ${peak} bytes ${JSON.stringify(peakFiles)} (bound ${BOUND}); ${linesProduced} lines produced (~${mib(linesProduced * 80)}); ${statusCalls} status calls answered; stub restarts ${view.restarts_total}, state ${view.state}; daemon RSS ${mib(rss)}`;

      expect(peak, figures).toBeLessThanOrEqual(BOUND);
      expect(final.total, figures).toBeLessThanOrEqual(BOUND);
      // A sample can fall between a rename and the new file's creation, so judge rotation over all samples.
      expect(
        [...namesSeen].sort(),
        `rotation happened, and never more than ${FILES} files: ${figures}`,
      ).toEqual(["chatty.log", "chatty.log.1", "chatty.log.2"]);
      expect(linesProduced * 80, `the flood wrote far more than the bound: ${figures}`).toBeGreaterThan(
        2 * BOUND,
      );
      expect(samples, figures).toBeGreaterThan(FLOOD_MS / SAMPLE_MS / 4);
      expect(statusCalls, figures).toBeGreaterThanOrEqual(samples / 10 - 1);
      report("log flood", {
        samples,
        peak_bytes: peak,
        bound_bytes: BOUND,
        lines_produced: linesProduced,
        stub_restarts: view.restarts_total,
        daemon_rss: mib(rss),
      });
    },
    FLOOD_MS + 30_000,
  );
});
