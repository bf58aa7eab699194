using System.Net;

namespace Lifeguard.Samples.WebGateway.Tests;

/// <summary>Gateways of their own, configured to fail in one way each.</summary>
public sealed class PoolFailureTests
{
    [Fact]
    public async Task A_pool_with_no_free_worker_answers_503_with_retry_after_and_reports_degraded()
    {
        // One worker, no overflow, and checkouts that do not wait: while a lease holds the worker, a request is turned away.
        await using var factory = new GatewayFactory(settings: new Dictionary<string, string?>
        {
            [GatewayFactory.Pool + "Size"] = "1",
            [GatewayFactory.Pool + "MaxOverflow"] = "0",
            [GatewayFactory.Pool + "CheckoutTimeout"] = "00:00:00",
        });
        using var client = factory.CreateClient();

        using (var lease = await factory.Optimizer.CheckoutAsync())
        {
            using var busy = await Batches.PostAsync(client, Batches.Small());
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), busy.Headers.RetryAfter?.Delta);
            var problem = await Batches.ReadJsonAsync(busy);
            Assert.Equal("The optimiser is busy", problem.GetProperty("title").GetString());
            Assert.DoesNotContain("MaxOverflow", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

            using var health = await client.GetAsync(new Uri("/health", UriKind.Relative));
            Assert.Equal("Degraded", (await Batches.ReadJsonAsync(health)).GetProperty("status").GetString());
        }

        using var served = await Batches.PostAsync(client, Batches.Small());
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task In_development_a_python_error_carries_its_type_and_traceback()
    {
        await using var factory = new GatewayFactory("Development", new Dictionary<string, string?> { [GatewayFactory.Pool + "Size"] = "1" });
        using var client = factory.CreateClient();
        var batch = Batches.Small();
        batch["deliveries"]![2]!["id"] = "d1";

        using var response = await Batches.PostAsync(client, batch);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await Batches.ReadJsonAsync(response);
        Assert.Equal("two deliveries have the id 'd1'", problem.GetProperty("detail").GetString());
        Assert.Equal("ValueError", problem.GetProperty("pythonType").GetString());
        Assert.Contains("optimizer.py", problem.GetProperty("traceback").GetString(), StringComparison.Ordinal);
        Assert.Contains("in _unique", problem.GetProperty("traceback").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disposing_the_gateway_stops_every_python_worker()
    {
        var factory = new GatewayFactory(settings: new Dictionary<string, string?> { [GatewayFactory.Pool + "Size"] = "2" });
        int[] pids;
        try
        {
            using var client = factory.CreateClient();
            using var response = await Batches.PostAsync(client, Batches.Small());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            pids = [.. factory.Optimizer.GetStatus().Workers.Select(w => Convert.ToInt32(w.Details["pid"], System.Globalization.CultureInfo.InvariantCulture))];
            Assert.Equal(2, pids.Length);
            Assert.All(pids, pid => Assert.True(Directory.Exists($"/proc/{pid}")));
        }
        finally
        {
            await factory.DisposeAsync();
        }

        await WaitUntilAsync(() => !pids.Any(pid => Directory.Exists($"/proc/{pid}")), "every python worker has exited");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = Environment.TickCount64 + 10_000;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, $"Timed out after 10 s waiting until {what}.");
            await Task.Delay(10);
        }
    }
}
