using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;

namespace Lifeguard.Dashboard.Tests;

/// <summary>The actions over HTTP: not mapped when off, the token, bad requests, and what each does to real pools.</summary>
public sealed class ActionTests
{
    private const string Token = "s3cret-token-for-tests";

    private static DashboardOptions WithActions => new() { AllowActions = true, ActionToken = Token };

    [Theory]
    [InlineData("api/pools/off/workers/1/kill")]
    [InlineData("api/pools/off/resize")]
    [InlineData("api/pools/off/recycle")]
    public async Task Actions_Off_NotMapped404EvenWithAToken(string path)
    {
        await using var server = await DashboardServer.StartAsync();
        var pool = await TestPools.StartCoreAsync(server.Registry, "off");

        using var response = await PostAsync(server, path, Token, """{"size": 5, "maxOverflow": 0}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var status = pool.GetStatus();
        Assert.Equal(2, status.Size);
        Assert.Equal(0, status.TotalRestarts);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("wrong")]
    [InlineData(Token + "x")]
    public async Task Actions_MissingOrWrongToken_403AndNothingDone(string? token)
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        var pool = await TestPools.StartCoreAsync(server.Registry, "guarded");
        var before = pool.GetStatus().Workers.Select(w => w.Id).ToList();

        using var kill = await PostAsync(server, $"api/pools/guarded/workers/{before[0]}/kill", token);
        using var resize = await PostAsync(server, "api/pools/guarded/resize", token, """{"size": 4, "maxOverflow": 0}""");
        using var recycle = await PostAsync(server, "api/pools/guarded/recycle", token);

        Assert.All([kill, resize, recycle], r => Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode));
        Assert.Equal("application/problem+json", kill.Content.Headers.ContentType?.MediaType);
        var status = pool.GetStatus();
        Assert.Equal(2, status.Size);
        Assert.Equal(before, status.Workers.Select(w => w.Id));
        Assert.Equal(3, server.Logs.Entries.Count(e => e.EventId.Id == 4101));
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains(Token, StringComparison.Ordinal));
    }

    [Fact]
    public void Map_ActionsWithoutAToken_ThrowsWhenMapped()
    {
        var app = WebApplication.CreateSlimBuilder().Build();
        var registry = new PoolRegistry();
        var e = Assert.Throws<ArgumentException>(() => app.MapLifeguardDashboard(options: new DashboardOptions { AllowActions = true, Registry = registry }));
        Assert.Contains("ActionToken", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => app.MapLifeguardDashboard(options: new DashboardOptions { SampleInterval = TimeSpan.FromMilliseconds(100), Registry = registry }));
        Assert.Throws<InvalidOperationException>(() => app.MapLifeguardDashboard());
    }

    [Theory]
    [InlineData("""{"size": -1, "maxOverflow": 0}""")]
    [InlineData("""{"size": 2}""")]
    [InlineData("""{"size": "2", "maxOverflow": 0}""")]
    [InlineData("""{"size": 1.5, "maxOverflow": 0}""")]
    [InlineData("""[2, 0]""")]
    [InlineData("""not json""")]
    [InlineData("")]
    [InlineData("""{"size": 0, "maxOverflow": 0}""")]
    public async Task Resize_InvalidValues_400ProblemAndNoChange(string body)
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        var pool = await TestPools.StartCoreAsync(server.Registry, "bad-resize");

        using var response = await PostAsync(server, "api/pools/bad-resize/resize", Token, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        Assert.Equal(2, pool.GetStatus().Size);
    }

    [Fact]
    public async Task Resize_TooLargeABody_400WithoutReadingIt()
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        await TestPools.StartCoreAsync(server.Registry, "big-body");

        using var response = await PostAsync(server, "api/pools/big-body/resize", Token, "{\"size\": 1, \"maxOverflow\": 0, \"x\": \"" + new string('a', 10_000) + "\"}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("api/pools/nope/workers/1/kill")]
    [InlineData("api/pools/nope/resize")]
    [InlineData("api/pools/nope/recycle")]
    [InlineData("api/pools/known/workers/999/kill")]
    [InlineData("api/pools/known/workers/abc/kill")]
    [InlineData("api/pools/known/workers/-1/kill")]
    public async Task Actions_UnknownPoolOrWorker_404(string path)
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        await TestPools.StartCoreAsync(server.Registry, "known");

        using var response = await PostAsync(server, path, Token, """{"size": 1, "maxOverflow": 0}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Actions_StoppedPool_409()
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        var pool = await TestPools.StartCoreAsync(server.Registry, "stopped");
        var id = pool.GetStatus().Workers[0].Id;
        await pool.StopAsync(); // stopped, still registered

        using var kill = await PostAsync(server, $"api/pools/stopped/workers/{id}/kill", Token);
        using var resize = await PostAsync(server, "api/pools/stopped/resize", Token, """{"size": 3, "maxOverflow": 0}""");
        using var recycle = await PostAsync(server, "api/pools/stopped/recycle", Token);

        Assert.Equal(HttpStatusCode.Conflict, resize.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, recycle.StatusCode);

        // A stopped pool has no live workers left: the worker is gone, or the pool says it is stopping.
        Assert.Contains(kill.StatusCode, new[] { HttpStatusCode.Conflict, HttpStatusCode.NotFound });
    }

    [Fact]
    public async Task Kill_PythonWorker_PidDisappearsAReplacementAppears_Audited()
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        var pool = await TestPools.StartPythonAsync(server.Registry, "kill-py", size: 2);
        var victim = pool.GetStatus().Workers[0];

        using var response = await PostAsync(server, $"api/pools/kill-py/workers/{victim.Id}/kill", Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(victim.ProcessId, body.GetProperty("pid").GetInt32());
        await TestPools.WaitUntilAsync(() => pool.GetStatus().Idle == 2, "the replacement is up");
        var workers = SnapshotTests.Pool(await SnapshotTests.SnapshotAsync(server), "kill-py").GetProperty("workers").EnumerateArray().ToList();
        var pids = workers.Select(w => w.GetProperty("pid").GetInt32()).ToList();
        Assert.Equal(2, pids.Count);
        Assert.DoesNotContain(victim.ProcessId!.Value, pids);
        Assert.DoesNotContain(victim.Id, workers.Select(w => w.GetProperty("id").GetInt32()));
        var audit = Assert.Single(server.Logs.Entries, e => e.EventId.Id == 4100);
        Assert.Contains($"kill worker {victim.Id} (pid {victim.ProcessId})", audit.Message, StringComparison.Ordinal);
        Assert.Contains("'kill-py'", audit.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", audit.Message, StringComparison.Ordinal);
        Assert.Contains("Killed", audit.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kill_CoreWorkerWithoutPid_ReportedTerminatedAndReplaced()
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        var pool = await TestPools.StartCoreAsync(server.Registry, "kill-core", size: 2);
        using var events = pool.SubscribeToEvents();
        var victim = pool.GetStatus().Workers[0].Id;

        using var response = await PostAsync(server, $"api/pools/kill-core/workers/{victim}/kill", Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var killed = await Lifeguard.Testing.PoolEvents.NextAsync(events, PoolEventKind.WorkerKilled);
        Assert.Equal("dashboard", killed.Source);
        await TestPools.WaitUntilAsync(() => pool.GetStatus().Idle == 2, "the replacement is up");
        Assert.DoesNotContain(victim, pool.GetStatus().Workers.Select(w => w.Id));
    }

    [Fact]
    public async Task Resize_ChangesTheCounts_SourceDashboard()
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        var pool = await TestPools.StartCoreAsync(server.Registry, "resize", size: 1);
        using var events = pool.SubscribeToEvents();

        using var response = await PostAsync(server, "api/pools/resize/resize", Token, """{"size": 3, "maxOverflow": 2}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var resized = await Lifeguard.Testing.PoolEvents.NextAsync(events, PoolEventKind.Resized);
        Assert.Equal("dashboard", resized.Source);
        await TestPools.WaitUntilAsync(() => pool.GetStatus().Idle == 3, "two more workers start");
        var snapshot = SnapshotTests.Pool(await SnapshotTests.SnapshotAsync(server), "resize");
        Assert.Equal(3, snapshot.GetProperty("size").GetInt32());
        Assert.Equal(2, snapshot.GetProperty("maxOverflow").GetInt32());
        Assert.Equal(3, snapshot.GetProperty("workers").GetArrayLength());
        Assert.Contains(server.Logs.Entries, e => e.EventId.Id == 4100 && e.Message.Contains("resize to Size 3, MaxOverflow 2 (was 1, 0)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Recycle_EveryWorkerRetiredAndReplaced()
    {
        await using var server = await DashboardServer.StartAsync(options: WithActions);
        var pool = await TestPools.StartPythonAsync(server.Registry, "recycle", size: 2);
        var before = pool.GetStatus().Workers.Select(w => w.ProcessId).ToList();

        using var response = await PostAsync(server, "api/pools/recycle/recycle", Token);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await TestPools.WaitUntilAsync(
            () => pool.GetStatus() is { Idle: 2 } s && s.Workers.All(w => !before.Contains(w.ProcessId)), "both workers are replaced", 60_000);
        var log = JsonDocument.Parse(await server.Client.GetStringAsync(new Uri("api/events", UriKind.Relative))).RootElement;
        Assert.Contains(log.EnumerateArray(), e => e.GetProperty("kind").GetString() == "RecycleRequested" && e.GetProperty("source").GetString() == "dashboard");
        Assert.Equal(2, log.EnumerateArray().Count(e => e.GetProperty("kind").GetString() == "WorkerRecycled"));
    }

    internal static async Task<HttpResponseMessage> PostAsync(DashboardServer server, string path, string? token, string? body = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (token is not null)
        {
            request.Headers.Add("X-Lifeguard-Token", token);
        }

        request.Content = new StringContent(body ?? "", Encoding.UTF8, "application/json");
        return await server.Client.SendAsync(request);
    }
}
