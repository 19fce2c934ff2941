# Build stage: dev dependencies to compile TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY api api
COPY producer producer
COPY workers workers
COPY core core
COPY sim sim
COPY bin bin
RUN npm run build

# Runtime stage: production dependencies only, compiled code, prompt templates, the run page's files; not root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist dist
COPY prompts prompts
COPY api/ui api/ui
COPY examples examples
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080 9464 8090
ENTRYPOINT ["node", "dist/bin/sdf-farm.js"]
CMD ["serve"]
