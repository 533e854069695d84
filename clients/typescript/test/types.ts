// Compile-time checks of the client's types (compiled by npm test; nothing here runs): what the
// generated types promise a caller, and what they refuse.

import { EngramClient, type Hit, NotFoundError, type SearchOptions } from "engramdb";

export async function typed(mem: EngramClient): Promise<string> {
  const hits: Hit[] = await mem.search("dog", {
    namespace: "user-42",
    now: new Date(),
    where: { speaker: "Maya", "metadata.topic": { $in: ["pets", "work"] } },
    kinds: ["episode", "fact"],
  });
  const relevance: number = hits[0]?.relevance ?? 0;
  const facts = await mem.facts({ subject: "Maya", as_of: "2024-01-01T00:00:00Z" });
  const value: string | undefined = facts[0]?.value;
  try {
    await mem.get("0".repeat(32));
  } catch (error) {
    if (error instanceof NotFoundError) return error.code;
  }
  return `${relevance} ${value}`;
}

// @ts-expect-error an option the server does not have
export const unknownOption: SearchOptions = { limitt: 3 };
// @ts-expect-error an emotion label the server does not know
export const badEmotion: SearchOptions = { emotion: "glee" };
// @ts-expect-error a filter on a field that is not a speaker, session or metadata key
export const badFilter: SearchOptions = { where: { colour: "red" } };
