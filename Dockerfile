# Build stage: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

# Runtime stage: the compiled server and its production dependencies only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HTTP_PORT=5280 DATA_DIR=/data WEBHOOK_REQUIRE_HTTPS=true
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 5280
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.HTTP_PORT+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# A 16 MiB young generation: shorter pauses than larger ones, which set the
# latency tail (README, "Runtime flags and garbage").
CMD ["node", "--max-semi-space-size=16", "--no-allocation-site-pretenuring", "dist/src/main.js"]
