// The test harness: a real `engram serve` on 127.0.0.1 with a store of its own and keys.
//
// ENGRAM names the command (default: `engram` on PATH; e.g. ENGRAM="python -m engramdb").

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [COMMAND = "engram", ...PREFIX] = (process.env.ENGRAM ?? "engram").split(" ").filter(Boolean);
const STARTUP_MS = 180_000; // the first start loads the embedding model, on a loaded machine

export interface Server {
  url: string;
  /** a key with admin access to every namespace */
  adminKey: string;
  /** a key that may only read the namespaces named shared-* */
  readerKey: string;
  stop(): Promise<void>;
}

function engram(store: string, ...args: string[]): string {
  return execFileSync(COMMAND, [...PREFIX, "--store", store, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

/** Start a server with a store and keys of its own. */
export async function startServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "engram-ts-"));
  const store = join(dir, "store");
  const adminKey = engram(store, "keys", "create", "--name", "ts-admin", "--access", "admin");
  // a key that may only read the namespaces named shared-*
  const readerKey = engram(
    store,
    "keys",
    "create",
    "--name",
    "ts-reader",
    "-n",
    "shared-*",
    "--access",
    "read",
  );
  const child = spawn(
    COMMAND,
    [
      ...PREFIX,
      "--store",
      store,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--no-mcp",
      "--consolidate-every",
      "0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engram serve did not start:\n${stderr}`)), STARTUP_MS);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
      const found = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (found?.[1]) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on("exit", (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`engram serve exited with ${code}:\n${stderr}`));
    });
  });
  return {
    url,
    adminKey,
    readerKey,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
