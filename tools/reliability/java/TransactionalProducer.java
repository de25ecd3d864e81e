import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The fault harness's transactional producer (tools/reliability/src/transactional-producer.ts starts it), on Kafka's
 * own org.apache.kafka.clients.producer.KafkaProducer:
 *   java -cp <this folder>:<kafka-clients jars>/* TransactionalProducer key=value ...
 * with bootstrap.servers, topic, partitions, log, transactional.id (required), records.per.transaction (20),
 * abort.fraction (1/3), seed (none), pause.ms (50), and producer.<name>=<value> to override a producer setting.
 *
 * It runs transactions until SIGTERM: begin; send records.per.transaction records spread over every partition in
 * turn, valued `<partition>:<sequence>:t<transaction>` (the sequence counts per partition and is never reused, not
 * after an abort nor after a failure, so a value names one send in the whole run); wait for every send's
 * RecordMetadata; then commit, or abort when the transaction is one to abort. Which ones: without a seed, evenly
 * spread (transaction n, from 0, when floor((n + 1) * fraction) > floor(n * fraction): every third for 1/3); with
 * one, transaction n draws from a Random seeded with seed and n. Either way the same run aborts the same numbers.
 *
 * Once a transaction's outcome is known, its records that got an offset are appended to the log, one JSON line
 * each, in one write (a SIGKILL loses no line that was written):
 *   {"t":"ack","p":P,"o":"OFFSET","v":"VALUE","ts":MILLIS}   committed (ts: when commitTransaction returned)
 *   {"t":"aborted","p":P,"o":"OFFSET","v":"VALUE"}           written, and the transaction certainly aborted
 *   {"t":"unknown","p":P,"o":"OFFSET","v":"VALUE"}           written, and the outcome never learnt
 * A record whose send failed has no offset and no line (it may still be in the log, in a transaction that was
 * certainly not committed: see below).
 *
 * How an outcome is known. Only this producer's EndTxn(COMMIT) can commit a transaction: the coordinator aborts one
 * on its own (transaction.timeout.ms, or the InitProducerId of a newer producer with the same transactional.id,
 * which fences the old one and aborts its open transaction, or completes one whose commit was already prepared).
 * - commitTransaction returned: committed.
 * - commitTransaction was never called (a planned abort, or a send failed, after which the producer refuses to
 *   commit and is aborted instead): aborted, whatever abortTransaction does next. If the abort fails too (a fatal
 *   error such as ProducerFencedException), the producer is closed and a new one with the same transactional.id is
 *   made: its initTransactions aborts the transaction if the coordinator still has it open. Those records are
 *   logged as aborted because no commit was ever asked for, not because the abort was seen.
 * - commitTransaction threw TimeoutException (max.block.ms passed, the EndTxn may or may not have been written):
 *   Kafka's docs make it retriable by calling commitTransaction again, which waits for the same result; that is
 *   done up to COMPLETION_ATTEMPTS times. Still timing out: unknown; the producer is closed (it may not abort now)
 *   and a new one made, whose initTransactions either completes the commit or aborts, without saying which.
 * - commitTransaction threw anything else: abortTransaction is tried. When it returns, the coordinator accepted an
 *   EndTxn(ABORT) for this producer id and epoch, which it refuses (INVALID_TXN_STATE, a fatal error) for a
 *   transaction whose commit it had written, so: aborted. (The one exception in the Java client, a producer id
 *   mapping expired after transactional.id.expiration.ms, skips the EndTxn; it cannot happen in a run of minutes.)
 *   When the abort throws too (the producer is fenced or in a fatal state): unknown, and a new producer is made.
 * Between transactions nothing is open, so a producer closed there leaves no transaction behind.
 *
 * SIGTERM: the transaction in progress runs to its planned end (commit or abort), a producer is made if the last one
 * failed (so that no transaction stays open and holds back the last stable offset), the producer is closed, a
 * summary line is printed to stdout, and the process exits 0. Nothing else goes to stdout; this program's notes
 * (one line per failure, `ready` after the first initTransactions) and kafka-clients' WARN lines go to stderr.
 */
public final class TransactionalProducer {
    /** How many times a commit or abort that timed out (max.block.ms) is called again before giving up. */
    private static final int COMPLETION_ATTEMPTS = 6;
    /** How long a SIGTERM waits for the transaction in progress and the close. */
    private static final long STOP_GRACE_MS = 180_000;
    private static final long REOPEN_BACKOFF_MS = 1_000;

    private final Settings settings;
    private final FileOutputStream log;
    private final long[] sequences;
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile int exitStatus = 1;
    private KafkaProducer<String, String> producer;
    private long nextPartition;
    private int producers;
    private final Counts counts = new Counts();

    private TransactionalProducer(Settings settings) throws IOException {
        this.settings = settings;
        this.log = new FileOutputStream(settings.logFile, true);
        this.sequences = new long[settings.partitions];
    }

    public static void main(String[] args) throws Exception {
        // slf4j-simple reads these when the first logger is made; a -D on the command line wins.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
            System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        Settings settings = Settings.parse(args);
        TransactionalProducer runner = new TransactionalProducer(settings);
        Runtime.getRuntime().addShutdownHook(new Thread(runner::stopOnSignal, "stop-on-signal"));
        int status = runner.run();
        // Reached without a signal only when run() failed; during a signal's shutdown this blocks, and the hook halts.
        System.exit(status);
    }

    /** The shutdown hook (SIGTERM, SIGINT): asks the loop to stop, waits for it, and exits with its status. */
    private void stopOnSignal() {
        stopRequested.countDown();
        boolean done = false;
        try {
            done = finished.await(STOP_GRACE_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException ignored) {
            // Exit at once.
        }
        if (!done) note("did not stop within " + STOP_GRACE_MS + " ms");
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(done ? exitStatus : 1);
    }

    private boolean stopping() {
        return stopRequested.getCount() == 0;
    }

    private int run() {
        try {
            for (long number = 0; !stopping(); number++) {
                if (producer == null && !open(false)) break;
                if (!transaction(number)) {
                    counts.producerFailures++;
                    closeProducer();
                    if (!stopping()) stopRequested.await(REOPEN_BACKOFF_MS, TimeUnit.MILLISECONDS);
                } else if (settings.pauseMs > 0) {
                    stopRequested.await(settings.pauseMs, TimeUnit.MILLISECONDS);
                }
            }
            // The last producer failed: a new one's initTransactions ends whatever it left open.
            if (producer == null && counts.producerFailures > 0) open(true);
            closeProducer();
            log.close();
            System.out.println(counts.summary(producers));
            exitStatus = 0;
        } catch (Throwable error) {
            note("stopped by an unexpected error: " + error);
            error.printStackTrace();
            exitStatus = 1;
        } finally {
            finished.countDown();
        }
        return exitStatus;
    }

    /**
     * Makes a producer and initialises its transactions (fencing any older one and ending its transaction), calling
     * initTransactions again after a timeout and making a new producer after any other failure. Returns false when
     * stopping before it worked (when `whileStopping`, it tries COMPLETION_ATTEMPTS times first).
     */
    private boolean open(boolean whileStopping) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            if (stopping() && (!whileStopping || attempt > COMPLETION_ATTEMPTS)) return false;
            KafkaProducer<String, String> candidate = null;
            try {
                candidate = new KafkaProducer<>(settings.producerProperties(), new StringSerializer(),
                    new StringSerializer());
                for (int init = 1; ; init++) {
                    try {
                        candidate.initTransactions();
                        break;
                    } catch (TimeoutException timeout) {
                        if (init >= COMPLETION_ATTEMPTS || (stopping() && !whileStopping)) throw timeout;
                        note("initTransactions timed out, calling it again: " + timeout.getMessage());
                    }
                }
                producer = candidate;
                producers++;
                if (producers == 1) note("ready");
                note("producer " + producers + " initialised (transactional.id " + settings.transactionalId + ")");
                return true;
            } catch (RuntimeException error) {
                note("could not initialise a producer (attempt " + attempt + "): " + error);
                if (candidate != null) closeQuietly(candidate);
                if (!stopping()) stopRequested.await(REOPEN_BACKOFF_MS, TimeUnit.MILLISECONDS);
                else Thread.sleep(REOPEN_BACKOFF_MS);
            }
        }
    }

    private void closeProducer() {
        if (producer == null) return;
        closeQuietly(producer);
        producer = null;
    }

    private void closeQuietly(KafkaProducer<String, String> victim) {
        try {
            victim.close(Duration.ofSeconds(5));
        } catch (RuntimeException error) {
            note("close failed: " + error);
        }
    }

    /** Whether transaction `number` is one to abort (see the header). */
    private boolean plannedAbort(long number) {
        double fraction = settings.abortFraction;
        if (settings.seed != null) return new Random(settings.seed * 1_000_003L + number).nextDouble() < fraction;
        // The epsilon keeps a fraction such as 0.3333333333333333 aborting every third.
        return Math.floor((number + 1) * fraction + 1e-9) > Math.floor(number * fraction + 1e-9);
    }

    /** One transaction, to its logged end. Returns false when the producer is no longer fit to use. */
    private boolean transaction(long number) throws InterruptedException, IOException {
        boolean abort = plannedAbort(number);
        counts.transactions++;
        try {
            producer.beginTransaction();
        } catch (RuntimeException error) {
            note("txn " + number + ": beginTransaction failed: " + error);
            counts.failedTransactions++;
            return false;
        }
        List<Send> sends = new ArrayList<>();
        Throwable sendFailure = null;
        for (int index = 0; index < settings.recordsPerTransaction; index++) {
            int partition = (int) (nextPartition++ % settings.partitions);
            String value = partition + ":" + sequences[partition]++ + ":t" + number;
            try {
                sends.add(new Send(value, producer.send(new ProducerRecord<>(settings.topic, partition, null, value))));
            } catch (RuntimeException error) {
                // The producer is in an error state: the rest would fail the same way.
                sendFailure = error;
                counts.unsent += settings.recordsPerTransaction - index;
                break;
            }
        }
        List<Written> written = new ArrayList<>();
        for (Send send : sends) {
            try {
                RecordMetadata metadata = send.future.get();
                written.add(new Written(metadata.partition(), metadata.offset(), send.value));
            } catch (ExecutionException error) {
                if (sendFailure == null) sendFailure = error.getCause();
                counts.unsent++;
            }
        }

        Outcome outcome;
        boolean fit = true;
        if (sendFailure == null && !abort) {
            RuntimeException commitError = complete(true);
            if (commitError == null) {
                outcome = Outcome.COMMITTED;
            } else if (commitError instanceof TimeoutException) {
                note("txn " + number + ": commit still timing out after " + COMPLETION_ATTEMPTS + " calls, outcome "
                    + "unknown: " + commitError);
                outcome = Outcome.UNKNOWN;
                fit = false;
            } else {
                RuntimeException abortError = complete(false);
                if (abortError == null) {
                    note("txn " + number + ": commit failed, aborted instead: " + commitError);
                    outcome = Outcome.ABORTED;
                } else {
                    note("txn " + number + ": commit failed (" + commitError + "), then abort failed (" + abortError
                        + "), outcome unknown");
                    outcome = Outcome.UNKNOWN;
                    fit = false;
                }
            }
        } else {
            if (sendFailure != null) note("txn " + number + ": a send failed, aborting: " + sendFailure);
            RuntimeException abortError = complete(false);
            if (abortError != null) {
                note("txn " + number + ": abort failed (never committed, so aborted): " + abortError);
                fit = false;
            }
            outcome = Outcome.ABORTED;
        }
        if (sendFailure != null || outcome != (abort ? Outcome.ABORTED : Outcome.COMMITTED) || !fit) {
            counts.failedTransactions++;
        }
        record(outcome, written);
        return fit;
    }

    /**
     * commitTransaction (or abortTransaction), called again after each TimeoutException up to COMPLETION_ATTEMPTS
     * calls. Returns null when it returned, else the last exception.
     */
    private RuntimeException complete(boolean commit) {
        for (int attempt = 1; ; attempt++) {
            try {
                if (commit) producer.commitTransaction();
                else producer.abortTransaction();
                return null;
            } catch (TimeoutException timeout) {
                if (attempt >= COMPLETION_ATTEMPTS) return timeout;
                note((commit ? "commit" : "abort") + " timed out, calling it again: " + timeout.getMessage());
            } catch (RuntimeException error) {
                return error;
            }
        }
    }

    private void record(Outcome outcome, List<Written> written) throws IOException {
        long now = System.currentTimeMillis();
        StringBuilder lines = new StringBuilder();
        for (Written record : written) {
            lines.append("{\"t\":\"").append(outcome.tag).append("\",\"p\":").append(record.partition)
                .append(",\"o\":\"").append(record.offset).append("\",\"v\":\"").append(record.value).append('"');
            if (outcome == Outcome.COMMITTED) lines.append(",\"ts\":").append(now);
            lines.append("}\n");
        }
        log.write(lines.toString().getBytes(StandardCharsets.UTF_8));
        log.flush();
        switch (outcome) {
            case COMMITTED -> {
                counts.committedTransactions++;
                counts.committed += written.size();
            }
            case ABORTED -> {
                counts.abortedTransactions++;
                counts.aborted += written.size();
            }
            case UNKNOWN -> {
                counts.unknownTransactions++;
                counts.unknown += written.size();
            }
        }
    }

    private static void note(String text) {
        System.err.println("[TransactionalProducer] " + text);
    }

    private enum Outcome {
        COMMITTED("ack"), ABORTED("aborted"), UNKNOWN("unknown");

        final String tag;

        Outcome(String tag) {
            this.tag = tag;
        }
    }

    private record Send(String value, Future<RecordMetadata> future) {}

    private record Written(int partition, long offset, String value) {}

    /** Transactions by outcome, and records: logged by outcome, or never written (their send failed). */
    private static final class Counts {
        long transactions;
        long committedTransactions;
        long abortedTransactions;
        long unknownTransactions;
        /** Transactions that did not end as planned: a send, the commit or the abort failed. */
        long failedTransactions;
        long producerFailures;
        long committed;
        long aborted;
        long unknown;
        long unsent;

        String summary(int producers) {
            return "{\"t\":\"summary\",\"transactions\":" + transactions + ",\"committedTransactions\":"
                + committedTransactions + ",\"abortedTransactions\":" + abortedTransactions
                + ",\"unknownTransactions\":" + unknownTransactions + ",\"failedTransactions\":" + failedTransactions
                + ",\"producers\":" + producers + ",\"committed\":" + committed + ",\"aborted\":" + aborted
                + ",\"unknown\":" + unknown + ",\"unsent\":" + unsent + "}";
        }
    }

    private static final class Settings {
        String bootstrap;
        String topic;
        int partitions;
        String logFile;
        String transactionalId;
        int recordsPerTransaction = 20;
        double abortFraction = 1.0 / 3;
        Long seed;
        long pauseMs = 50;
        final Map<String, String> overrides = new LinkedHashMap<>();

        static Settings parse(String[] args) {
            Settings settings = new Settings();
            for (String arg : args) {
                int equals = arg.indexOf('=');
                if (equals <= 0) throw new IllegalArgumentException("expected key=value, got " + arg);
                String key = arg.substring(0, equals);
                String value = arg.substring(equals + 1);
                switch (key) {
                    case "bootstrap.servers" -> settings.bootstrap = value;
                    case "topic" -> settings.topic = value;
                    case "partitions" -> settings.partitions = Integer.parseInt(value);
                    case "log" -> settings.logFile = value;
                    case "transactional.id" -> settings.transactionalId = value;
                    case "records.per.transaction" -> settings.recordsPerTransaction = Integer.parseInt(value);
                    case "abort.fraction" -> settings.abortFraction = Double.parseDouble(value);
                    case "seed" -> settings.seed = Long.parseLong(value);
                    case "pause.ms" -> settings.pauseMs = Long.parseLong(value);
                    default -> {
                        if (!key.startsWith("producer.")) throw new IllegalArgumentException("unknown setting " + key);
                        settings.overrides.put(key.substring("producer.".length()), value);
                    }
                }
            }
            if (settings.bootstrap == null || settings.topic == null || settings.logFile == null
                || settings.transactionalId == null || settings.partitions <= 0) {
                throw new IllegalArgumentException(
                    "bootstrap.servers, topic, partitions (> 0), log and transactional.id are required");
            }
            if (settings.recordsPerTransaction <= 0) throw new IllegalArgumentException("records.per.transaction <= 0");
            if (!(settings.abortFraction >= 0 && settings.abortFraction <= 1)) {
                throw new IllegalArgumentException("abort.fraction must be in [0, 1]");
            }
            return settings;
        }

        /**
         * Sized for a broker SIGKILLed in a 3-broker cluster: the controller fences it after broker.session.timeout.ms
         * (9 s), then leaders move and ISRs shrink, and a produce retried within delivery.timeout.ms lands; a
         * transaction (sends and commit) fits in transaction.timeout.ms unless the outage outlasts it, and then the
         * coordinator aborts it, which the client sees as an error (logged as explained in the header).
         */
        Properties producerProperties() {
            Properties properties = new Properties();
            properties.put("bootstrap.servers", bootstrap);
            properties.put("transactional.id", transactionalId);
            properties.put("client.id", "sluice-reliability-txn-" + transactionalId);
            properties.put("enable.idempotence", "true");
            properties.put("acks", "all");
            properties.put("max.in.flight.requests.per.connection", "5");
            properties.put("linger.ms", "5");
            properties.put("request.timeout.ms", "10000");
            properties.put("delivery.timeout.ms", "25000");
            properties.put("transaction.timeout.ms", "30000");
            properties.put("max.block.ms", "20000");
            properties.put("retry.backoff.ms", "100");
            properties.put("retry.backoff.max.ms", "1000");
            properties.put("metadata.max.age.ms", "5000");
            properties.putAll(overrides);
            return properties;
        }
    }
}
