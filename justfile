# runtime-matrix tasks. Each recipe runs the npm script of the same name, so `npm run <name>` works without just.

# List the recipes
default:
    @{{just_executable()}} --justfile {{justfile()}} --list

# Compile TypeScript to dist/
build:
    npm run build

# Build, then run every test
test:
    npm test

# Build, then run rmxd in the foreground with debug logs
dev:
    npm run dev

# Build, then run the benchmarks
bench:
    npm run bench

# End-to-end smoke: MODE=stub (default, no model needed) or MODE=real (needs LLAMA_SERVER_BIN and LLAMA_MODEL_PATH)
runtime-smoke:
    MODE="${MODE:-stub}" npm run runtime-smoke
