// Runs the explorer's bundled decoder in Node: node explore_decode.mjs BUNDLE INPUT.json
// INPUT: {"decoder": spec, "codes": [[...], ...]}; prints {"pixels": [[...], ...]} (C*H*W each).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [bundle, input] = process.argv.slice(2);
const { makeDecoder } = await import(pathToFileURL(bundle).href);
const { decoder, codes } = JSON.parse(readFileSync(input, "utf8"));
const model = makeDecoder(decoder);
const pixels = codes.map((z) => Array.from(model.decode(Float32Array.from(z))));
process.stdout.write(JSON.stringify({ pixels }));
