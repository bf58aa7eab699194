using Microsoft.Extensions.Logging;
using RabbitMQ.Client;

namespace Lifeguard.RabbitMQ;

/// <summary>
/// Options of a host that serves a local <see cref="Python.PythonPool"/>'s calls from RabbitMQ
/// (<see cref="RabbitMqPoolHost"/>, <c>ServeOnRabbitMQ</c>, <c>lifeguard serve</c>). The pool it serves must have an
/// <see cref="Python.PythonPoolOptions.AllowedModules"/> list: a host runs what any publisher on the broker sends.
/// </summary>
public sealed class RabbitMqServeOptions
{
    /// <summary>
    /// The broker's AMQP URI (<c>amqp://user:password@host:5672/vhost</c>; <c>amqps://</c> for TLS). Default
    /// <see langword="null"/>: the <c>LIFEGUARD_BROKER</c> environment variable. The password is never logged.
    /// </summary>
    public Uri? Broker { get; set; }

    /// <summary>The call queue's length limit, as <see cref="RemotePythonPoolOptions.MaxQueueLength"/>; the same on every caller and host. Default 10000.</summary>
    public int MaxQueueLength { get; set; } = 10_000;

    /// <summary>
    /// The delivery of a message that makes it a poison input: delivered this many times (each earlier delivery lost
    /// with its host), it is moved to the dead-letter queue <c>lifeguard.NAME.dead</c> instead of being run, and its
    /// caller gets <see cref="PythonPoisonInputException"/>. Default 3; from 2 to 100.
    /// </summary>
    public int PoisonThreshold { get; set; } = 3;

    /// <summary>How often the host tells callers its capacity, busy workers and calls served. Default 1 s; from 100 ms to 1 min.</summary>
    public TimeSpan StatusInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The host's name in the remote pool's status. Default: the machine's name and this process's id.</summary>
    public string? HostName { get; set; }

    /// <summary>
    /// How long a stopping host waits for the calls it runs to finish before it interrupts them. The messages it had
    /// not started go back to the queue, for other hosts, as they were. Default 30 s.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Changes the connection factory after the URI is applied: client certificates, TLS versions, heartbeats.</summary>
    public Action<ConnectionFactory>? ConfigureConnection { get; set; }

    /// <summary>Where the host logs; <see langword="null"/> for the pool's logger factory.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    internal void Validate(string poolName)
    {
        var errors = new List<string>();
        Topology.CheckName(errors, poolName);
        Topology.CheckLimits(errors, MaxQueueLength, PoisonThreshold);
        if (StatusInterval < TimeSpan.FromMilliseconds(100) || StatusInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"StatusInterval must be from 100 ms to 1 min (was {StatusInterval}).");
        }

        if (DrainTimeout < TimeSpan.Zero)
        {
            errors.Add($"DrainTimeout must be zero or positive (was {DrainTimeout}).");
        }

        if (errors.Count > 0)
        {
#pragma warning disable MA0015 // The options object itself is what is invalid; there is no parameter to name.
            throw new ArgumentException($"Invalid options for serving pool '{poolName}' on RabbitMQ: {string.Join(" ", errors)}");
#pragma warning restore MA0015
        }
    }
}
