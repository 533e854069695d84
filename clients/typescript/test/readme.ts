// The five lines of the README (README.md here and at the repository's root), compiled by
// npm test, never run; tests/test_typescript.py checks that both READMEs show these lines.
import { EngramClient } from "engramdb";
const mem = new EngramClient({ url: "http://127.0.0.1:8765", apiKey: process.env.ENGRAM_KEY });
await mem.add("I adopted a terrier called Pastel.", { namespace: "user-42", speaker: "Maya" });
const hits = await mem.search("What is the dog called?", { namespace: "user-42" });
console.log(hits[0]?.engram.text, hits[0]?.relevance, hits[0]?.explain.summary);
