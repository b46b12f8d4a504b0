# Thin wrappers around the npm scripts; npm runs everything on the node@24 devDependency.
.PHONY: all build test typecheck image e2e bench start clean

all: build

node_modules: package-lock.json
	npm ci

build: node_modules
	npm run build

typecheck: node_modules
	npm run typecheck

test: node_modules
	npm test

image: build
	docker build -f Dockerfile.sciontool -t sciontool .

# The end-to-end tests alone (a container engine must answer `docker info`).
e2e: build
	SCION_E2E_REQUIRED=1 npm run test:e2e

bench: build
	npm run bench

start: build
	npm start

clean:
	rm -rf dist src/supervisor/native/build bench/results.json
