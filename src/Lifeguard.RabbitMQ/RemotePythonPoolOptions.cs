using System.Text.Json;
using Lifeguard.Python;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Lifeguard.RabbitMQ;

/// <summary>
/// Options of a <see cref="RemotePythonPool"/>: the broker, the pool it calls, and the defaults of its calls, which
/// mean what they mean for a local <see cref="PythonPool"/>. <see cref="MaxQueueLength"/> must be the same on every
/// caller and host of the pool: it is an argument of the pool's call queue.
/// </summary>
public sealed class RemotePythonPoolOptions
{
    /// <summary>The pool's name, as its hosts serve it (<c>lifeguard serve FILE.py --pool NAME</c>): letters, digits, '.', '-' and '_', at most 100.</summary>
    public string Name { get; set; } = "";

    /// <summary>
    /// The broker's AMQP URI (<c>amqp://user:password@host:5672/vhost</c>; <c>amqps://</c> for TLS). Default
    /// <see langword="null"/>: the <c>LIFEGUARD_BROKER</c> environment variable. The password is never logged.
    /// </summary>
    public Uri? Broker { get; set; }

    /// <summary>
    /// Each call's timeout, per attempt, once a host has started it; with <see cref="CheckoutTimeout"/> it makes the
    /// call's deadline. Default 100 s; positive or <see cref="Timeout.InfiniteTimeSpan"/>.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// How long a call may wait for the broker to confirm it (past it, <see cref="PoolTimeoutException"/>) and then
    /// for a host to start it: a call still queued when its deadline (this plus <see cref="CallTimeout"/>) passes
    /// expires in the queue and is never run. Default 5 s; zero, positive or <see cref="Timeout.InfiniteTimeSpan"/>.
    /// </summary>
    public TimeSpan CheckoutTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Extra attempts, as new messages, after a crash or a timeout reply; more than 0 makes calls idempotent. Default 0.
    /// </summary>
    public int MaxRetries { get; set; }

    /// <summary>How many items a remote stream's host may send ahead of its consumer. Default 16; from 1 to 65536.</summary>
    public int StreamWindow { get; set; } = 16;

    /// <summary>
    /// The call queue's length limit: beyond it a call is refused at once with <see cref="PoolRejectedException"/>.
    /// Default 10000; at least 1. The same on every caller and host of the pool.
    /// </summary>
    public int MaxQueueLength { get; set; } = 10_000;

    /// <summary>
    /// How many deliveries of one message (counted by the quorum queue) make it a poison input: its next delivery is
    /// moved to the dead-letter queue and its caller gets <see cref="PythonPoisonInputException"/>. Only an idempotent
    /// call is delivered more than once. Default 3; from 2 to 100. Read by the hosts, whose own option it is.
    /// </summary>
    public int PoisonThreshold { get; set; } = 3;

    /// <summary>The largest message, call or reply, in bytes, as <see cref="PythonPoolOptions.MaxFrameSize"/>. Default 64 MiB.</summary>
    public int MaxFrameSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>Whether a <see cref="PythonException"/>'s message shows the call's arguments. Default <see langword="false"/>.</summary>
    public bool IncludeArgumentsInErrors { get; set; }

    /// <summary>The serializer options values cross the wire with, as <see cref="PythonPoolOptions.JsonSerializerOptions"/>.</summary>
    public JsonSerializerOptions? JsonSerializerOptions { get; set; }

    /// <summary>As <see cref="PythonPoolOptions.AllowNamedFloatingPointLiterals"/>.</summary>
    public bool AllowNamedFloatingPointLiterals { get; set; }

    /// <summary>Changes the connection factory after the URI is applied: client certificates, TLS versions, heartbeats.</summary>
    public Action<ConnectionFactory>? ConfigureConnection { get; set; }

    /// <summary>Where the pool logs; <see langword="null"/> for nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock of the deadlines. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        var errors = new List<string>();
        Topology.CheckName(errors, Name);
        if (CallTimeout <= TimeSpan.Zero && CallTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"CallTimeout must be positive or Timeout.InfiniteTimeSpan (was {CallTimeout}).");
        }

        if (CheckoutTimeout < TimeSpan.Zero && CheckoutTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"CheckoutTimeout must be zero, positive or Timeout.InfiniteTimeSpan (was {CheckoutTimeout}).");
        }

        if (MaxRetries < 0)
        {
            errors.Add($"MaxRetries must be at least 0 (was {MaxRetries}).");
        }

        if (StreamWindow is < 1 or > 65536)
        {
            errors.Add($"StreamWindow must be from 1 to 65536 (was {StreamWindow}).");
        }

        Topology.CheckLimits(errors, MaxQueueLength, PoisonThreshold);
        if (MaxFrameSize is < 4096 or > 128 * 1024 * 1024)
        {
            errors.Add($"MaxFrameSize must be from 4096 to 134217728 bytes, RabbitMQ's largest message (was {MaxFrameSize}).");
        }

        if (errors.Count > 0)
        {
#pragma warning disable MA0015 // The options object itself is what is invalid; there is no parameter to name.
            throw new ArgumentException($"Invalid options for remote Python pool '{Name}': {string.Join(" ", errors)}");
#pragma warning restore MA0015
        }
    }
}
