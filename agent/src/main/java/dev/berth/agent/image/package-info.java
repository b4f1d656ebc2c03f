/**
 * The local image store: {@code docker import}, {@code images}, {@code inspect}, {@code tag}
 * and {@code rmi}, and the store side of {@code docker pull}, laid out as an OCI content
 * store.
 *
 * <ul>
 *   <li>{@link dev.berth.agent.image.ImageStore}: blobs, unpacked layer snapshots (the
 *       overlayfs lower dirs of containers) and the index of images and tags; thread-safe and
 *       crash-safe.
 *   <li>{@link dev.berth.agent.image.Ingest}: adds a pulled image: streams layer blobs in,
 *       verifies and unpacks them, shares a download between concurrent pulls, commits the
 *       image, and leaves nothing behind when it fails.
 *   <li>{@link dev.berth.agent.image.LayerUnpacker}: unpacks one layer tar, hostile input,
 *       without ever writing outside its target; OCI whiteouts become overlayfs ones.
 *   <li>{@code Writeback} and {@code FileTrees#syncTree}: durability made cheaper, not weaker:
 *       large files are written back to disk while they are written, and a tree is synced
 *       with many fsyncs at once (the file system commits them together); each file is
 *       still fsynced before it gets a final name.
 *   <li>{@link dev.berth.agent.image.Reference}: image references as Docker users write
 *       them, normalized.
 * </ul>
 *
 * Depends on the JDK, Jackson (the JSON documents), commons-compress (tar and gzip parsing)
 * and {@link dev.berth.agent.runtime.Syscalls} (mknod, lchown, lsetxattr) only, plus the
 * agent's {@code BerthException} and {@code AtomicFiles}. Never shells out to tar.
 */
package dev.berth.agent.image;
