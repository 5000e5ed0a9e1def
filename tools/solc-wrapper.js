#!/usr/bin/env node
// solc command-line shim over the npm `solc` package (solc-js), for py-solc-x and brownie.
//
// py-solc-x looks for an executable named `solc-v<version>` in $SOLCX_BINARY_PATH (default ~/.solcx)
// and calls it in exactly these ways, which is all this shim answers:
//   --version                                      version banner (py-solc-x parses "Version: x.y.z+commit.h")
//   --help                                         usage, including the --combined-json outputs line
//   --standard-json [--allow-paths P] [--base-path P]          standard JSON on stdin -> stdout
//   --combined-json abi[,bin,...] [--allow-paths P] -           one source on stdin -> combined JSON
// Anything else exits 2 with a message on stderr: a silent wrong answer from a compiler is worse than none.
//
// Installed by `make` (tools/install_solc.py). The solc-js module is found, in order, at $SOLCJS_MODULE,
// in node_modules/solc walking up from the working directory (brownie runs from the project root), and at
// the path recorded when the shim was installed.
"use strict";

const fs = require("fs");
const path = require("path");

const INSTALLED_FROM = "__INSTALLED_FROM__"; // replaced by the installer with the project root
const COMBINED_OUTPUTS = {
  abi: (c) => c.abi,
  bin: (c) => c.evm.bytecode.object,
  "bin-runtime": (c) => c.evm.deployedBytecode.object,
  hashes: (c) => c.evm.methodIdentifiers,
  metadata: (c) => c.metadata,
};

function fail(message, code = 2) {
  process.stderr.write(`solc-wrapper: ${message}\n`);
  process.exitCode = code;
}

function findSolcModule() {
  const candidates = [];
  if (process.env.SOLCJS_MODULE) candidates.push(process.env.SOLCJS_MODULE);
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, "node_modules", "solc"));
    if (path.dirname(dir) === dir) break;
  }
  if (!INSTALLED_FROM.startsWith("__")) candidates.push(path.join(INSTALLED_FROM, "node_modules", "solc"));
  for (const candidate of candidates) {
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
  }
  throw new Error(`npm package 'solc' not found (looked in: ${candidates.join(", ")}); run 'npm ci'`);
}

function parseArgs(argv) {
  const opts = { allowPaths: [], basePath: null, mode: null, outputs: null, stdinSource: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`option ${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case "--version":
        opts.mode = "version";
        break;
      case "--help":
        opts.mode = "help";
        break;
      case "--standard-json":
        opts.mode = "standard-json";
        break;
      case "--combined-json":
        opts.mode = "combined-json";
        opts.outputs = value().split(",");
        break;
      case "--allow-paths":
        opts.allowPaths.push(...value().split(","));
        break;
      case "--base-path":
        opts.basePath = value();
        break;
      case "-":
        opts.stdinSource = true;
        break;
      default:
        throw new Error(`unsupported argument '${arg}' (this shim supports only what py-solc-x calls)`);
    }
  }
  if (!opts.mode) throw new Error("no mode given: expected --version, --help, --standard-json or --combined-json");
  return opts;
}

function readStdin() {
  return fs.readFileSync(0, "utf8");
}

// Import callback: solc-js cannot read files itself. Paths arrive already remapped; they are resolved
// against the base path, the working directory and the allowed paths, and must stay inside one of them.
function makeImportCallback(opts) {
  const roots = [opts.basePath, process.cwd(), ...opts.allowPaths].filter(Boolean).map((p) => path.resolve(p));
  return (importPath) => {
    for (const root of roots) {
      const full = path.resolve(root, importPath);
      const inside = roots.some((r) => full === r || full.startsWith(r + path.sep));
      if (inside && fs.existsSync(full) && fs.statSync(full).isFile()) {
        return { contents: fs.readFileSync(full, "utf8") };
      }
    }
    return { error: `File not found inside allowed paths: ${importPath}` };
  };
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    return fail(err.message);
  }
  let solc;
  try {
    solc = require(findSolcModule());
  } catch (err) {
    return fail(err.message, 3);
  }

  if (opts.mode === "version") {
    process.stdout.write(`solc, the solidity compiler commandline interface (solc-js shim)\nVersion: ${solc.version()}\n`);
    return;
  }
  if (opts.mode === "help") {
    process.stdout.write(
      "solc-js shim. Supported:\n  --version\n  --standard-json\n" +
        `  --combined-json ${Object.keys(COMBINED_OUTPUTS).join(",")}\n  --allow-paths path(s)\n  --base-path path\n`,
    );
    return;
  }

  const callback = { import: makeImportCallback(opts) };
  if (opts.mode === "standard-json") {
    const output = solc.compile(readStdin(), callback);
    process.stdout.write(output); // let the process end by itself so a piped stdout drains fully
    return;
  }

  // --combined-json: one source from stdin, as py-solc-x's compile_source sends it.
  if (!opts.stdinSource) return fail("--combined-json needs '-' (source on stdin)");
  const unknown = opts.outputs.filter((o) => !(o in COMBINED_OUTPUTS));
  if (unknown.length) return fail(`unsupported --combined-json output(s): ${unknown.join(",")}`);
  const input = {
    language: "Solidity",
    sources: { "<stdin>": { content: readStdin() } },
    settings: { outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers", "metadata"] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), callback));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length) return fail(errors.map((e) => e.formattedMessage).join("\n"), 1);
  const contracts = {};
  for (const [file, byName] of Object.entries(output.contracts || {})) {
    for (const [name, compiled] of Object.entries(byName)) {
      const entry = {};
      for (const key of opts.outputs) entry[key] = COMBINED_OUTPUTS[key](compiled);
      contracts[`${file}:${name}`] = entry;
    }
  }
  process.stdout.write(JSON.stringify({ contracts, version: solc.version() }));
}

main();
