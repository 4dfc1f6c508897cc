# The ragsync workers and CLI. Built by docker-compose.yml and for Kubernetes (deploy/).
# Two stages: the build stage compiles the TypeScript with the dev dependencies; the runtime stage
# holds only the compiled code and the production dependencies, and runs as the unprivileged
# `node` user (uid 1000, which the Kubernetes manifests' runAsUser names).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production RAGSYNC_USE_DIST=1 RAGSYNC_CONFIG=/app/container.yaml
# glibc gives every thread that allocates a malloc arena of its own (up to 8 per core); a worker's
# threads (stage threads, libuv, LanceDB's runtime) then keep freed memory in many of them. Two
# arenas held `run all` about 50 MB lower (632 → 582 MB peak, 50,000 entities), at no measurable cost.
ENV MALLOC_ARENA_MAX=2
# glibc serves an allocation over its mmap threshold with a mapping of its own, returned to the
# system when freed; but it raises the threshold to the size of every such block freed (up to
# 32 MB), after which LanceDB's and Arrow's batch buffers come from the arenas and stay there.
# A fixed 512 KiB held `run all` about 40 MB lower (100,000 entities: 478–479 MB peak against
# 519–520) for 2–5 % more CPU.
ENV MALLOC_MMAP_THRESHOLD_=524288
# V8 lets the main thread's young generation grow to 48 MB (two 16 MB semi-spaces and room for
# large objects), and a worker's stages allocate fast enough to fill it. 8 MB semi-spaces held
# `run all` about 50 MB lower (100,000 entities: 503–529 MB peak against 558–570) at the same
# speed. Only a process's start can set it, hence here; stage threads set their own
# (RAGSYNC_THREAD_YOUNG_MB).
ENV NODE_OPTIONS=--max-semi-space-size=8
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY deploy/container.yaml ./container.yaml
# The only folders the process writes to (an embedded LanceDB under .data, a fetched ONNX model
# under models): owned by the runtime user, everything else stays read-only to it.
RUN mkdir -p .data models && chown node:node .data models
EXPOSE 9464 8787 8790
# Numeric, so a runtime can check it is not root without reading /etc/passwd.
USER 1000:1000
ENTRYPOINT ["node", "bin/ragsync.js"]
CMD ["--help"]
