// Writes the generated parts of the README from their one source: the component's options table
// (components/options.ts) between the `options` markers. A unit test fails when they differ.
import * as fs from "fs";
import * as path from "path";
import { optionsTable } from "../components/options";

const file = path.resolve(__dirname, "..", "README.md");
const readme = fs.readFileSync(file, "utf8");
const begin = "<!-- options:begin -->";
const end = "<!-- options:end -->";
const from = readme.indexOf(begin);
const to = readme.indexOf(end);
if (from < 0 || to < from) throw new Error(`README.md has no ${begin} ... ${end} markers`);
fs.writeFileSync(file, `${readme.slice(0, from + begin.length)}\n${optionsTable()}\n${readme.slice(to)}`);
console.log("README.md: options table written");
