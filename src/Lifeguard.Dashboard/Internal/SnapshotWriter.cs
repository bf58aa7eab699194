using System.Buffers;
using System.Text.Json;

namespace Lifeguard.Dashboard;

/// <summary>
/// Writes the dashboard's snapshot JSON (camelCase; the schema docs/dashboard.md gives) from pool statuses. Output
/// text a worker wrote is bounded here: the last <see cref="MaxTailLines"/> lines, each cut at
/// <see cref="MaxTailLineChars"/> characters. Stateless and thread-safe.
/// </summary>
internal static class SnapshotWriter
{
    public const int MaxTailLines = 20;
    public const int MaxTailLineChars = 1000;

    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    public static byte[] Write(
        DateTimeOffset time, bool actions, IReadOnlyList<PoolStatus> pools, IReadOnlyDictionary<string, PoolRates>? rates)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("time", time);
            json.WriteBoolean("actions", actions);
            json.WriteStartArray("pools");
            foreach (var pool in pools)
            {
                WritePool(json, pool, rates is not null && rates.TryGetValue(pool.Name, out var r) ? r : null);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Every pool's status, sorted by name; a pool that fails to report is left out rather than fail the snapshot.</summary>
    public static List<PoolStatus> ReadStatuses(PoolRegistry registry)
    {
        var statuses = new List<PoolStatus>();
        foreach (var pool in registry.Pools)
        {
            try
            {
                statuses.Add(pool.GetStatus());
            }
            catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
            {
                // Stopped and disposed between the listing and the read.
            }
        }

        statuses.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return statuses;
    }

    private static void WritePool(Utf8JsonWriter json, PoolStatus pool, PoolRates? rates)
    {
        json.WriteStartObject();
        json.WriteString("name", pool.Name);
        json.WriteString("state", pool.State.ToString());
        json.WriteNumber("size", pool.Size);
        json.WriteNumber("maxOverflow", pool.MaxOverflow);
        json.WriteNumber("generation", pool.Generation);
        json.WriteNumber("idle", pool.Idle);
        json.WriteNumber("busy", pool.Busy);
        json.WriteNumber("starting", pool.Starting);
        json.WriteNumber("stopping", pool.Stopping);
        json.WriteNumber("overflow", pool.Overflow);
        json.WriteNumber("waiters", pool.Waiters);
        json.WriteNumber("totalRestarts", pool.TotalRestarts);
        json.WriteNumber("totalDeaths", pool.TotalDeaths);
        json.WriteNumber("totalCheckouts", pool.TotalCheckouts);
        json.WriteNumber("totalStarts", pool.TotalStarts);
        json.WriteNumber("totalTimeouts", pool.TotalTimeouts);
        json.WriteNumber("totalRejections", pool.TotalRejections);
        json.WriteNumber("totalStartFailures", pool.TotalStartFailures);
        WriteSizing(json, pool.Sizing);
        WriteRates(json, rates);
        json.WriteStartArray("workers");
        foreach (var worker in pool.Workers)
        {
            WriteWorker(json, worker);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteSizing(Utf8JsonWriter json, SizingObservation? sizing)
    {
        if (sizing is null)
        {
            json.WriteNull("sizing");
            return;
        }

        json.WriteStartObject("sizing");
        json.WriteNumber("windowSeconds", sizing.Window.TotalSeconds);
        json.WriteNumber("arrivalRate", sizing.ArrivalRate);
        json.WriteNumber("peakRate", sizing.PeakRate);
        json.WriteNumber("meanBusy", sizing.MeanBusy);
        json.WriteNumber("meanLeaseSeconds", sizing.MeanLeaseTime.TotalSeconds);
        json.WriteNumber("advisedSize", sizing.Advice.Size);
        json.WriteNumber("advisedMaxOverflow", sizing.Advice.MaxOverflow);
        json.WriteString("explanation", sizing.Advice.Explain());
        json.WriteEndObject();
    }

    private static void WriteRates(Utf8JsonWriter json, PoolRates? rates)
    {
        if (rates is null)
        {
            json.WriteNull("rates");
            return;
        }

        json.WriteStartObject("rates");
        json.WriteNumber("callsPerSecond", rates.CallsPerSecond);
        WritePercentiles(json, "waitSeconds", rates.WaitSeconds);
        WritePercentiles(json, "leaseSeconds", rates.LeaseSeconds);
        json.WriteEndObject();
    }

    private static void WritePercentiles(Utf8JsonWriter json, string name, Percentiles? value)
    {
        if (value is not { } p)
        {
            json.WriteNull(name);
            return;
        }

        json.WriteStartObject(name);
        json.WriteNumber("p50", p.P50);
        json.WriteNumber("p95", p.P95);
        json.WriteNumber("p99", p.P99);
        json.WriteNumber("count", p.Count);
        json.WriteEndObject();
    }

    private static void WriteWorker(Utf8JsonWriter json, WorkerStatus worker)
    {
        json.WriteStartObject();
        json.WriteNumber("id", worker.Id);
        json.WriteNumber("slot", worker.Slot);
        json.WriteNumber("generation", worker.Generation);
        WriteNullable(json, "pid", worker.ProcessId);
        json.WriteString("state", worker.State.ToString());
        json.WriteNumber("uses", worker.Uses);
        json.WriteNumber("ageSeconds", Math.Round(worker.Age.TotalSeconds, 3));
        WriteNullable(json, "rssBytes", worker.ResidentMemoryBytes);
        json.WriteBoolean("retirePending", worker.RetirePending);

        // A remote pool's rows are its hosts (Lifeguard.RabbitMQ): the host's name, as it reports itself.
        if (worker.Details.TryGetValue("host", out var host) && host is string hostName)
        {
            json.WriteString("host", hostName);
        }
        else
        {
            json.WriteNull("host");
        }

        if (worker.CurrentCall is { } call)
        {
            json.WriteStartObject("call");
            json.WriteString("function", call.Name);
            json.WriteNumber("elapsedSeconds", Math.Round(call.Elapsed.TotalSeconds, 3));
            json.WriteEndObject();
        }
        else
        {
            json.WriteNull("call");
        }

        WriteTail(json, "outputTail", worker.OutputTail);
        json.WriteEndObject();
    }

    public static void WriteTail(Utf8JsonWriter json, string name, IReadOnlyList<string> lines)
    {
        json.WriteStartArray(name);
        for (int i = Math.Max(0, lines.Count - MaxTailLines); i < lines.Count; i++)
        {
            var line = lines[i];
            json.WriteStringValue(line.Length <= MaxTailLineChars ? line : string.Concat(line.AsSpan(0, MaxTailLineChars), "…"));
        }

        json.WriteEndArray();
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, long? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
