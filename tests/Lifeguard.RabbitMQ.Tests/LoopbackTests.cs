using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Lifeguard.RabbitMQ.Tests;

[Collection(BrokerCollection.Name)]
public sealed class LoopbackTests(BrokerFixture broker)
{
    [Fact]
    public void Uri_NamesLoopbackAndAPrivateUser()
    {
        var uri = broker.Node.Uri;
        Assert.Equal("127.0.0.1", uri.Host);
        Assert.NotEqual(5672, uri.Port);
        Assert.StartsWith("lifeguard:", uri.UserInfo, StringComparison.Ordinal);
        Assert.True(uri.UserInfo.Length > "lifeguard:".Length + 32, "the password is at least 32 characters");
    }

    [Fact]
    public async Task Listeners_AreOnLoopbackOnly()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var listeners = await broker.Node.ListenersAsync(timeout.Token);

        Assert.Contains(listeners, l => l.Protocol == "amqp" && l.Port == broker.Node.Uri.Port);
        Assert.Contains(listeners, l => l.Protocol == "clustering");
        Assert.All(listeners, l => Assert.Equal("127.0.0.1", l.Interface));
    }

    [Fact]
    public async Task AmqpPort_OnANonLoopbackAddress_RefusesConnections()
    {
        var port = broker.Node.Uri.Port;

        // The same port on loopback accepts: the refusal below is the binding's, not a closed port's.
        using (var loopback = new TcpClient())
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await loopback.ConnectAsync(IPAddress.Loopback, port, bound.Token);
            Assert.True(loopback.Connected);
        }

        var others = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .ToList();
        foreach (var address in others)
        {
            using var client = new TcpClient();
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var refused = await Assert.ThrowsAnyAsync<SocketException>(async () => await client.ConnectAsync(address, port, bound.Token));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
    }
}
