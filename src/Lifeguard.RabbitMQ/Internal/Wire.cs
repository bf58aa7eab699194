using System.Globalization;
using System.Text.Json;
using Lifeguard.Python;
using RabbitMQ.Client;

namespace Lifeguard.RabbitMQ;

/// <summary>
/// The messages of a remote pool (docs/cluster.md, "Messages"). A call's body is one protocol frame (docs/protocol.md)
/// of kind Call; a reply's is a Result, Item or StreamEnd frame, or a remote error (kind 80, in the range the protocol
/// reserves for remote-pool envelopes). The headers carry what the host needs before it reads the body.
/// </summary>
internal static class Wire
{
    /// <summary>The kind of a remote error frame: <c>{"error": code, "message", "host", ...}</c>.</summary>
    public const FrameKind RemoteError = FrameKind.RemoteFirst;

    public const int Version = 1;

    public const string VersionHeader = "x-lifeguard-version";

    /// <summary>The call's remaining time when it was published, in milliseconds; absent for none.</summary>
    public const string RemainingHeader = "x-lifeguard-remaining-ms";

    /// <summary>The call's timeout per attempt once started, in milliseconds; -1 for none.</summary>
    public const string CallTimeoutHeader = "x-lifeguard-call-timeout-ms";

    /// <summary>Whether the call may run more than once.</summary>
    public const string IdempotentHeader = "x-lifeguard-idempotent";

    /// <summary>A stream's window; absent on a call.</summary>
    public const string StreamWindowHeader = "x-lifeguard-stream-window";

    /// <summary>The quorum queue's count of earlier deliveries.</summary>
    public const string DeliveryCountHeader = "x-delivery-count";

    public const string DirectReplyTo = "amq.rabbitmq.reply-to";

    public const string CallType = "call";
    public const string StreamType = "stream";
    public const string CancelType = "cancel";
    public const string CreditType = "credit";
    public const string CloseType = "close";
    public const string StatusType = "status";

    public static long? ReadLong(IReadOnlyBasicProperties properties, string header)
        => properties.Headers?.TryGetValue(header, out var value) == true
            ? value switch
            {
                long l => l,
                int i => i,
                short s => s,
                byte b => b,
                sbyte sb => sb,
                uint ui => ui,
                ushort us => us,
                _ => null,
            }
            : null;

    public static bool ReadBool(IReadOnlyBasicProperties properties, string header)
        => properties.Headers?.TryGetValue(header, out var value) == true && value is true;

    public static string Milliseconds(TimeSpan time)
        => ((long)Math.Ceiling(Math.Max(0, time.TotalMilliseconds))).ToString(CultureInfo.InvariantCulture);

    /// <summary>A remote error frame for <paramref name="error"/>, which the host's pool threw.</summary>
    public static byte[] Error(Exception error, string host)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            switch (error)
            {
                case PythonException e:
                    json.WriteString("error", "python");
                    json.WriteString("type", e.PythonType);
                    json.WriteString("python_message", e.PythonMessage);
                    json.WriteString("traceback", e.PythonTraceback);
                    break;
                case PythonWorkerCrashedException e:
                    json.WriteString("error", "crash");
                    json.WriteNumber("pid", e.ProcessId);
                    if (e.ExitCode is { } code)
                    {
                        json.WriteNumber("exit_code", code);
                    }

                    if (e.Signal is { } signal)
                    {
                        json.WriteNumber("signal", signal);
                    }

                    json.WriteString("stderr_tail", e.StderrTail);
                    break;
                case PythonCallTimeoutException e:
                    json.WriteString("error", "timeout");
                    json.WriteNumber("timeout_ms", e.Timeout == Timeout.InfiniteTimeSpan ? -1 : (long)e.Timeout.TotalMilliseconds);
                    json.WriteBoolean("killed", e.WorkerKilled);
                    break;
                case PythonSerializationException:
                    json.WriteString("error", "serialization");
                    break;
                case PythonModuleNotAllowedException:
                    json.WriteString("error", "not_allowed");
                    break;
                case PythonProtocolException:
                    json.WriteString("error", "protocol");
                    break;
                case PoolRejectedException:
                    json.WriteString("error", "rejected");
                    break;
                case PoolTimeoutException e:
                    json.WriteString("error", "pool_timeout");
                    json.WriteNumber("timeout_ms", e.Timeout == Timeout.InfiniteTimeSpan ? -1 : (long)e.Timeout.TotalMilliseconds);
                    break;
                case RemoteHostLostException:
                    json.WriteString("error", "host_lost");
                    break;
                case PythonPoisonInputException e:
                    json.WriteString("error", "poison");
                    json.WriteNumber("deliveries", e.Deliveries);
                    json.WriteString("queue", e.DeadLetterQueue);
                    break;
                case ExpiredException:
                    json.WriteString("error", "expired");
                    break;
                case NotSupportedException:
                    json.WriteString("error", "not_supported");
                    break;
                default:
                    json.WriteString("error", "other");
                    json.WriteString("type", error.GetType().FullName);
                    break;
            }

            json.WriteString("message", error.Message);
            json.WriteString("host", host);
            json.WriteEndObject();
        }

        return FrameReader.Compose(RemoteError, buffer.WrittenSpan, default);
    }

    /// <summary>
    /// The caller's exception for a remote error frame. <paramref name="where"/> is the call as a
    /// <see cref="PythonException"/>'s message shows it.
    /// </summary>
    /// <exception cref="PythonProtocolException">The frame is not a remote error.</exception>
    public static Exception ReadError(Frame frame, string pool, string function, string where, TimeSpan callTimeout)
    {
        try
        {
            using var document = JsonDocument.Parse(frame.Json);
            var root = document.RootElement;
            string code = root.GetProperty("error").GetString() ?? "";
            string message = root.GetProperty("message").GetString() ?? "";
            string host = root.TryGetProperty("host", out var h) ? h.GetString() ?? "" : "";
            string onHost = host.Length > 0 ? $" (on host {host})" : "";
            Exception error = code switch
            {
                "python" => PythonRaised(root, pool, function, where),
                "crash" => new PythonWorkerCrashedException(
                    message + onHost,
                    pool,
                    root.TryGetProperty("pid", out var pid) ? pid.GetInt32() : 0,
                    root.TryGetProperty("exit_code", out var exit) ? exit.GetInt32() : null,
                    root.TryGetProperty("signal", out var signal) ? signal.GetInt32() : null,
                    root.TryGetProperty("stderr_tail", out var tail) ? tail.GetString() ?? "" : ""),
                "timeout" => new PythonCallTimeoutException(
                    message + onHost,
                    pool,
                    function,
                    root.TryGetProperty("timeout_ms", out var t) && t.GetInt64() >= 0 ? TimeSpan.FromMilliseconds(t.GetInt64()) : callTimeout,
                    root.TryGetProperty("killed", out var killed) && killed.GetBoolean()),
                "expired" => new PythonCallTimeoutException(message + onHost, pool, function, callTimeout, workerKilled: false),
                "serialization" => new PythonSerializationException(message + onHost, pool),
                "not_allowed" => new PythonModuleNotAllowedException(message + onHost, pool),
                "protocol" => new PythonProtocolException(message + onHost, pool),
                "rejected" => new PoolRejectedException(message + onHost, pool, null),
                "pool_timeout" => new PoolTimeoutException(
                    message + onHost, pool, root.TryGetProperty("timeout_ms", out var pt) && pt.GetInt64() >= 0 ? TimeSpan.FromMilliseconds(pt.GetInt64()) : Timeout.InfiniteTimeSpan, null),
                "host_lost" => new RemoteHostLostException(message + onHost, pool, function),
                "poison" => new PythonPoisonInputException(
                    message + onHost, pool, function, root.GetProperty("deliveries").GetInt32(), root.GetProperty("queue").GetString() ?? Topology.DeadLetterQueue(pool)),
                "not_supported" => new NotSupportedException(message + onHost),
                _ => new LifeguardException(message + onHost, pool),
            };
            if (host.Length > 0)
            {
                error.Data["lifeguard.host"] = host;
            }

            return error;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new PythonProtocolException($"A host of pool '{pool}' answered {function} with a malformed error ({e.Message}).", pool, e);
        }
    }

    private static PythonException PythonRaised(JsonElement root, string pool, string function, string where)
    {
        var reply = new ErrorReply(
            "",
            root.GetProperty("type").GetString() ?? "",
            root.GetProperty("python_message").GetString() ?? "",
            root.TryGetProperty("traceback", out var tb) ? tb.GetString() ?? "" : "");
        return PythonErrors.Raised(pool, function, where, reply);
    }
}

/// <summary>A call whose deadline passed before a host could start it: it was dropped, never run.</summary>
internal sealed class ExpiredException(string message) : Exception(message);
