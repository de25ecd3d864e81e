import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One sample of Kafka's Java consumer for `pnpm bench:consume` (benchmarks/src/consume-java.ts starts it):
 *   java -cp <this folder>:<kafka-tools jars>/* SluiceConsumerPerf <warm-up reads> <group id> <ConsumerPerformance args>
 * It runs Kafka's own org.apache.kafka.tools.ConsumerPerformance in this JVM <warm-up reads> times untimed (each
 * with group <group id>-warm-up-<n>, so the JIT warms up as the Node clients' does in their warm-up reads), then
 * once more with <group id>, and prints one JSON line with the CPU time of the whole process (every thread: the
 * consumer's, the JIT compilers', the garbage collector's) over that last run, its wall time, and the process's peak
 * resident set (VmHWM). ConsumerPerformance prints its own summary line for every run, before that.
 */
public final class SluiceConsumerPerf {
    private SluiceConsumerPerf() {}

    public static void main(String[] args) throws Exception {
        int warmUps = Integer.parseInt(args[0]);
        String group = args[1];
        List<String> tool = Arrays.asList(args).subList(2, args.length);
        com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        for (int index = 1; index <= warmUps; index++) {
            run(tool, group + "-warm-up-" + index);
        }
        System.gc();
        long cpuStart = os.getProcessCpuTime();
        long wallStart = System.nanoTime();
        run(tool, group);
        long wallNs = System.nanoTime() - wallStart;
        long cpuNs = os.getProcessCpuTime() - cpuStart;
        System.out.println("{\"type\":\"sluice-bench-java-sample\",\"cpuNs\":" + cpuNs + ",\"wallNs\":" + wallNs
            + ",\"processCpuNs\":" + os.getProcessCpuTime() + ",\"vmHwmKiB\":" + peakResidentKiB() + "}");
        System.out.flush();
        System.exit(0);
    }

    private static void run(List<String> tool, String group) {
        List<String> args = new ArrayList<>(tool);
        args.add("--group");
        args.add(group);
        org.apache.kafka.tools.ConsumerPerformance.main(args.toArray(new String[0]));
    }

    /** VmHWM from /proc/self/status, KiB; -1 where there is none. */
    private static long peakResidentKiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        } catch (Exception ignored) {
            // Not Linux: no peak to report.
        }
        return -1;
    }
}
