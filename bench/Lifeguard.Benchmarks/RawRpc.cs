using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Lifeguard.Benchmarks;

/// <summary>
/// <c>raw-rpc</c>, the baseline of <c>cluster.roundtrip</c>: an RPC over RabbitMQ written with RabbitMQ.Client alone,
/// with what Lifeguard's remote pool relies on and nothing else. A quorum call queue (durable, with the same length
/// limit and <c>reject-publish</c>), persistent calls published with a publisher confirm awaited (mandatory, as
/// Lifeguard's), a .NET consumer with manual acknowledgements and a prefetch of 1 (the capacity of a host of one
/// worker) that echoes each call's body to its direct reply-to address, with a confirm awaited, and only then acks it.
/// The caller and the consumer each have their own connection, as a caller and a host do. No headers, no expiration,
/// no status, no Python: the least such an RPC can cost.
/// </summary>
internal sealed class RawRpc : IAsyncDisposable
{
    public const string DirectReplyTo = "amq.rabbitmq.reply-to";

    private readonly ConcurrentDictionary<string, TaskCompletionSource<byte[]>> _pending = new(StringComparer.Ordinal);
    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly string _queue;
    private IConnection? _serverConnection;
    private IChannel? _serverChannel;
    private IConnection? _clientConnection;
    private IChannel? _clientChannel;

    private RawRpc(string queue) => _queue = queue;

    /// <summary>Declares <paramref name="queue"/> (quorum) and starts the echoing consumer and the caller on <paramref name="broker"/>.</summary>
    public static async Task<RawRpc> StartAsync(Uri broker, string queue, int maxQueueLength)
    {
        var rpc = new RawRpc(queue);
        try
        {
            await rpc.StartServerAsync(broker, maxQueueLength);
            await rpc.StartClientAsync(broker);
            return rpc;
        }
        catch
        {
            await rpc.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// One call from one caller at a time: <c>{"m": module, "f": function, "a": [argument]}</c> written with
    /// <see cref="Utf8JsonWriter"/>, published and confirmed; returns the echoed body.
    /// </summary>
    public async Task<byte[]> CallAsync(string module, string function, int argument)
    {
        _buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(_buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("m", module);
            writer.WriteString("f", function);
            writer.WriteStartArray("a");
            writer.WriteNumberValue(argument);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        string id = Guid.NewGuid().ToString("N");
        var reply = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var properties = new BasicProperties { CorrelationId = id, MessageId = id, ReplyTo = DirectReplyTo, Persistent = true };
        try
        {
            await _clientChannel!.BasicPublishAsync("", _queue, mandatory: true, properties, _buffer.WrittenMemory);
            return await reply.Task;
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in new[] { _clientChannel, _serverChannel })
        {
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }
        }

        foreach (var connection in new[] { _clientConnection, _serverConnection })
        {
            if (connection is not null)
            {
                await connection.CloseAsync();
                await connection.DisposeAsync();
            }
        }

        _clientChannel = _serverChannel = null;
        _clientConnection = _serverConnection = null;
    }

    private static CreateChannelOptions Confirmed => new(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true);

    private async Task StartServerAsync(Uri broker, int maxQueueLength)
    {
        _serverConnection = await new ConnectionFactory { Uri = broker, ClientProvidedName = "bench raw-rpc server" }.CreateConnectionAsync();
        var channel = _serverChannel = await _serverConnection.CreateChannelAsync(Confirmed);
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["x-queue-type"] = "quorum",
            ["x-max-length"] = maxQueueLength - 1,
            ["x-overflow"] = "reject-publish",
        };
        await channel.QueueDeclareAsync(_queue, durable: true, exclusive: false, autoDelete: false, arguments);
        await channel.BasicQosAsync(0, 1, global: false);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var properties = new BasicProperties { CorrelationId = delivery.BasicProperties.CorrelationId };
            await channel.BasicPublishAsync("", delivery.BasicProperties.ReplyTo!, mandatory: false, properties, delivery.Body);
            await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await channel.BasicConsumeAsync(_queue, autoAck: false, consumer);
    }

    private async Task StartClientAsync(Uri broker)
    {
        _clientConnection = await new ConnectionFactory { Uri = broker, ClientProvidedName = "bench raw-rpc caller" }.CreateConnectionAsync();
        _clientChannel = await _clientConnection.CreateChannelAsync(Confirmed);
        var replies = new AsyncEventingBasicConsumer(_clientChannel);
        replies.ReceivedAsync += (_, delivery) =>
        {
            if (delivery.BasicProperties.CorrelationId is { } id && _pending.TryGetValue(id, out var reply))
            {
                reply.TrySetResult(delivery.Body.ToArray());
            }

            return Task.CompletedTask;
        };
        await _clientChannel.BasicConsumeAsync(DirectReplyTo, autoAck: true, replies);
    }
}
