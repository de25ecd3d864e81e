import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Starts kafka.Kafka in this JVM, and, when -Dsluice.watchStdin=true, ends the JVM as soon as its
 * standard input reaches end-of-file. The harness keeps a pipe to every broker's stdin; when the
 * harness process dies for any reason (a failed test run, Ctrl-C, SIGKILL), the kernel closes that
 * pipe and every broker it started goes with it, deleting its own data directory on the way out.
 * Every node of a cluster deletes the same folder at once, so a walk may find files gone under it:
 * deleting is best effort, and the JVM halts whatever happens to it.
 * Brokers started by `pnpm kafka up` run detached and do not watch stdin.
 */
public final class SluiceKafkaLauncher {
  private SluiceKafkaLauncher() {}

  public static void main(String[] args) throws Exception {
    if (Boolean.getBoolean("sluice.watchStdin")) {
      String cleanup = System.getProperty("sluice.cleanupDir");
      Thread watcher = new Thread(() -> {
        try {
          byte[] sink = new byte[256];
          while (System.in.read(sink) != -1) {
            // the harness never writes; anything read is ignored
          }
        } catch (IOException ignored) {
          // a broken pipe means the same as end-of-file
        }
        try {
          if (cleanup != null && !cleanup.isEmpty()) {
            deleteTree(Paths.get(cleanup));
          }
        } finally {
          Runtime.getRuntime().halt(143);
        }
      }, "sluice-parent-watch");
      watcher.setDaemon(true);
      watcher.start();
    }
    Class.forName("kafka.Kafka").getMethod("main", String[].class).invoke(null, (Object) args);
  }

  private static void deleteTree(Path root) {
    // Another node's JVM may be deleting the same tree: a walk that trips over a file it removed (the
    // stream throws UncheckedIOException) is tried again, a few times, until the folder is gone.
    for (int attempt = 0; attempt < 5 && Files.exists(root); attempt++) {
      try (Stream<Path> paths = Files.walk(root)) {
        paths.sorted(Comparator.reverseOrder()).forEach(path -> {
          try {
            Files.deleteIfExists(path);
          } catch (IOException ignored) {
            // best effort: the JVM is about to halt
          }
        });
      } catch (IOException | UncheckedIOException ignored) {
        // best effort; try again
      }
    }
  }
}
