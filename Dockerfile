# syntax=docker/dockerfile:1
# poster in a container: build with the dev tools, run with the production dependencies only, as a non-root user.
#   docker build -t poster .                       CPU (and WebGPU) providers, nothing downloaded at install time
#   docker run --rm -v poster-cache:/cache -v "$PWD":/work poster eval /work/RAF-DB/basic --model rafdb --out /work/runs/raf
# The model cache (downloaded checkpoints, converted models, optimised graphs) is the volume /cache.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# skip: onnxruntime-node's install step would download CUDA binaries; the CPU and WebGPU providers are bundled.
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL} \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json ./
# The npm cache is a build cache mount, so rebuilds (and builds behind a registry mirror) fetch nothing twice.
RUN --mount=type=cache,target=/root/.npm npm ci --prefer-offline --ignore-scripts \
    && npm rebuild onnxruntime-node sharp
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build \
    && node node_modules/oclif/bin/run.js manifest \
    && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    POSTER_CACHE=/cache \
    ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY --from=build /src/package.json /src/oclif.manifest.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
RUN ln -s /app/bin/run.js /usr/local/bin/poster \
    && mkdir -p /cache /data /out \
    && chown node:node /cache /out
VOLUME ["/cache"]
USER node
ENTRYPOINT ["poster"]
CMD ["--help"]
