# The ragsync workers and CLI. Built by docker-compose.yml and for Kubernetes (deploy/).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production RAGSYNC_USE_DIST=1 RAGSYNC_CONFIG=/app/container.yaml
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY deploy/container.yaml ./container.yaml
EXPOSE 9464 8787
USER node
ENTRYPOINT ["node", "bin/ragsync.js"]
CMD ["--help"]
