using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Lifeguard.RabbitMQ.Tests;

[Collection(BrokerCollection.Name)]
public sealed class RoundTripTests(BrokerFixture broker)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task QuorumQueue_ConfirmedPublishThenManualAck_RoundTripsTheMessageOnce()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        var factory = new ConnectionFactory { Uri = broker.Node.Uri, RequestedConnectionTimeout = Bound };
        await using var connection = await factory.CreateConnectionAsync(ct);
        var queue = "round-trip-" + Guid.NewGuid().ToString("N");
        var arguments = new Dictionary<string, object?> { ["x-queue-type"] = "quorum" };

        // Confirm tracking: the publish completes only when the broker has confirmed it (and throws on a nack).
        await using (var publisher = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct))
        {
            var declared = await publisher.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
            Assert.Equal(queue, declared.QueueName);
            var properties = new BasicProperties { MessageId = "m-1", Persistent = true };
            await publisher.BasicPublishAsync(string.Empty, queue, mandatory: true, properties, Encoding.UTF8.GetBytes("hello, quorum"), ct);
        }

        await using (var consumerChannel = await connection.CreateChannelAsync(cancellationToken: ct))
        {
            var delivered = new TaskCompletionSource<BasicDeliverEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
            var consumer = new AsyncEventingBasicConsumer(consumerChannel);
            consumer.ReceivedAsync += (_, delivery) =>
            {
                // The body's memory belongs to the client only during the handler: keep a copy.
                delivered.TrySetResult(new BasicDeliverEventArgs(
                    delivery.ConsumerTag, delivery.DeliveryTag, delivery.Redelivered, delivery.Exchange, delivery.RoutingKey,
                    delivery.BasicProperties, delivery.Body.ToArray(), ct));
                return Task.CompletedTask;
            };
            var tag = await consumerChannel.BasicConsumeAsync(queue, autoAck: false, consumer, ct);
            var delivery = await delivered.Task.WaitAsync(ct);

            Assert.Equal("hello, quorum", Encoding.UTF8.GetString(delivery.Body.Span));
            Assert.Equal("m-1", delivery.BasicProperties.MessageId);
            Assert.False(delivery.Redelivered);
            await consumerChannel.BasicAckAsync(delivery.DeliveryTag, multiple: false, ct);
            await consumerChannel.BasicCancelAsync(tag, cancellationToken: ct);
        }

        // An unacknowledged message would be back in the queue once its channel closed: the ack took it out for good.
        await using var checker = await connection.CreateChannelAsync(cancellationToken: ct);
        Assert.Null(await checker.BasicGetAsync(queue, autoAck: true, ct));

        // The queue is a quorum queue: declaring it again as a classic one is refused.
        var classic = new Dictionary<string, object?> { ["x-queue-type"] = "classic" };
        await Assert.ThrowsAnyAsync<Exception>(() => checker.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, classic, cancellationToken: ct));
    }
}
