package dev.berth.agent.metrics;

import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.VolumeStore;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;

/**
 * What {@code berth system df} shows, as {@code docker system df} does: for images, containers
 * and volumes, how many there are, how many are in use, their size and what removing the
 * unused ones would free.
 *
 * <ul>
 *   <li>images: in use when a container (of any state) was created from it; size is each
 *       image's unpacked size, so layers shared by several images count once per image
 *       (Docker counts shared layers once);
 *   <li>containers: active when running; size is the writable layer's content; reclaimable
 *       is that of the stopped ones;
 *   <li>volumes: in use when a container mounts it; size is the content below its mount point.
 * </ul>
 *
 * Sizes are file content bytes, walking the directories: seconds for very large trees.
 */
public final class DiskUsage {
  private DiskUsage() {}

  /** One line of the table. */
  public record Category(String type, int total, int active, long sizeBytes, long reclaimableBytes) {}

  public static List<Category> of(ImageStore images, ContainerRuntime runtime, VolumeStore volumes) {
    int imageCount = 0;
    int imagesActive = 0;
    long imageSize = 0;
    long imageFree = 0;
    for (ImageRecord i : images.list()) {
      imageCount++;
      imageSize += i.sizeBytes();
      if (runtime.imageInUse(i.id())) {
        imagesActive++;
      } else {
        imageFree += i.sizeBytes();
      }
    }
    int containers = 0;
    int running = 0;
    long containerSize = 0;
    long containerFree = 0;
    for (ContainerView c : runtime.list(true)) {
      containers++;
      long size = treeSize(c.rootfs().resolveSibling("upper"));
      containerSize += size;
      if (c.state().running()) {
        running++;
      } else {
        containerFree += size;
      }
    }
    int volumeCount = 0;
    int volumesActive = 0;
    long volumeSize = 0;
    long volumeFree = 0;
    for (VolumeStore.Volume v : volumes.list()) {
      volumeCount++;
      long size = treeSize(v.mountpoint());
      volumeSize += size;
      if (runtime.volumeInUse(v.name())) {
        volumesActive++;
      } else {
        volumeFree += size;
      }
    }
    return List.of(new Category("Images", imageCount, imagesActive, imageSize, imageFree),
        new Category("Containers", containers, running, containerSize, containerFree),
        new Category("Local Volumes", volumeCount, volumesActive, volumeSize, volumeFree));
  }

  /** The bytes of the regular files below {@code dir}, not following links; 0 when it is missing. */
  static long treeSize(Path dir) {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    long[] total = {0};
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          if (attrs.isRegularFile()) {
            total[0] += attrs.size();
          }
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException e) {
          return FileVisitResult.CONTINUE; // removed meanwhile, or unreadable: not counted
        }
      });
    } catch (IOException e) {
      return total[0];
    }
    return total[0];
  }
}
