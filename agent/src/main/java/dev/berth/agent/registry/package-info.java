/**
 * Pulls images from OCI distribution (Docker registry v2) registries into the local image
 * store: {@code docker pull}.
 *
 * <ul>
 *   <li>{@link dev.berth.agent.registry.RegistryClient}: the HTTP side. Manifests, indexes and
 *       blobs over the JDK's {@link java.net.http.HttpClient} (blob downloads over plain HTTP
 *       over a lean HTTP/1.1 GET of its own, {@code Http1Get}); HTTPS, or plain HTTP for
 *       insecure registries (always {@code localhost}, {@code 127.0.0.0/8} and {@code ::1});
 *       anonymous, basic and bearer-token auth; digest verification of what it returns;
 *       bounded retries and resumed blob downloads.
 *   <li>{@link dev.berth.agent.registry.Puller}: a pull. Resolves a reference to the manifest
 *       of the host's {@link dev.berth.agent.registry.Platform}, and downloads, verifies and
 *       unpacks the layers the store lacks, in parallel, through an {@link
 *       dev.berth.agent.image.Ingest}; reports progress to a {@link
 *       dev.berth.agent.registry.PullListener}.
 * </ul>
 *
 * Depends on the JDK, Jackson (manifests, indexes, token responses), Caffeine (the token
 * cache) and {@code dev.berth.agent.image} (references, the store), plus the agent's {@code
 * BerthException}. Failures are {@link dev.berth.agent.BerthException}s whose message names the
 * registry, the repository and the reason.
 */
package dev.berth.agent.registry;
