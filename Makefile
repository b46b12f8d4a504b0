# Thin wrappers around the npm scripts; npm runs everything on the node@24 devDependency.
.PHONY: all build test typecheck bench start clean

all: build

node_modules: package-lock.json
	npm ci

build: node_modules
	npm run build

typecheck: node_modules
	npm run typecheck

test: node_modules
	npm test

bench: build
	npm run bench

start: build
	npm start

clean:
	rm -rf dist src/supervisor/native/build bench/results.json
