using Lifeguard.Testing;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>One private RabbitMQ node for the whole assembly (started once, stopped after the last test).</summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    public RabbitMqNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await RabbitMqNode.StartAsync();

    public async Task DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BrokerCollection : ICollectionFixture<BrokerFixture>
{
    public const string Name = "broker";
}
