using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace Lifeguard.RabbitMQ;

/// <summary>
/// The broker objects of one remote pool (docs/cluster.md, "Topology"), declared alike by its callers and hosts:
/// the call queue <c>lifeguard.NAME.calls</c> (a quorum queue with a length limit that refuses publishes beyond it),
/// the dead-letter queue <c>lifeguard.NAME.dead</c>, the control exchange <c>lifeguard.NAME.control</c> (fanout,
/// callers to hosts: cancels) and the status exchange <c>lifeguard.NAME.status</c> (fanout, hosts to callers).
/// </summary>
internal static class Topology
{
    public const int MaxNameLength = 100;

    public static string CallQueue(string pool) => $"lifeguard.{pool}.calls";

    public static string DeadLetterQueue(string pool) => $"lifeguard.{pool}.dead";

    public static string ControlExchange(string pool) => $"lifeguard.{pool}.control";

    public static string StatusExchange(string pool) => $"lifeguard.{pool}.status";

    public static void CheckName(List<string> errors, string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength
            || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
        {
            errors.Add($"Name must be 1 to {MaxNameLength} letters, digits, '.', '-' or '_' (was '{name}').");
        }
    }

    public static void CheckLimits(List<string> errors, int maxQueueLength, int poisonThreshold)
    {
        if (maxQueueLength < 1)
        {
            errors.Add($"MaxQueueLength must be at least 1 (was {maxQueueLength}).");
        }

        if (poisonThreshold is < 2 or > 100)
        {
            errors.Add($"PoisonThreshold must be from 2 to 100 (was {poisonThreshold}).");
        }
    }

    /// <summary>Declares the pool's queues and exchanges (idempotent while the arguments agree).</summary>
    /// <exception cref="InvalidOperationException">The call queue exists with other arguments; the channel is closed.</exception>
    public static async Task DeclareAsync(IChannel channel, string pool, int maxQueueLength, CancellationToken cancellationToken)
    {
        var calls = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["x-queue-type"] = "quorum",
            // A quorum queue takes one message beyond its x-max-length before it refuses publishes: one less makes
            // MaxQueueLength the exact number of calls it holds.
            ["x-max-length"] = maxQueueLength - 1,
            ["x-overflow"] = "reject-publish",
        };
        try
        {
            await channel.QueueDeclareAsync(CallQueue(pool), durable: true, exclusive: false, autoDelete: false, calls, cancellationToken: cancellationToken).ConfigureAwait(false);
            await channel.QueueDeclareAsync(
                DeadLetterQueue(pool), durable: true, exclusive: false, autoDelete: false,
                new Dictionary<string, object?>(StringComparer.Ordinal) { ["x-queue-type"] = "quorum" }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 406)
        {
            throw new InvalidOperationException(
                $"The broker already has the queue {CallQueue(pool)} with other arguments ({e.ShutdownReason.ReplyText}): "
                    + $"MaxQueueLength ({maxQueueLength} here) must be the same on every caller and host of pool '{pool}'.",
                e);
        }

        await channel.ExchangeDeclareAsync(ControlExchange(pool), ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        await channel.ExchangeDeclareAsync(StatusExchange(pool), ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
