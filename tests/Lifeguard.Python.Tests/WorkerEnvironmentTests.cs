namespace Lifeguard.Python.Tests;

/// <summary><c>{worker}</c> in <see cref="PythonPoolOptions.Environment"/>: each worker's slot in its environment.</summary>
public sealed class WorkerEnvironmentTests : PythonTestBase
{
    [Theory]
    [InlineData("{worker}", 3, "3")]
    [InlineData("cuda:{worker},spare", 12, "cuda:12,spare")]
    [InlineData("{worker}-{worker}", 7, "7-7")]
    [InlineData("{{worker}}", 5, "{worker}")]
    [InlineData("a{{worker}}b{worker}c", 2, "a{worker}b2c")]
    [InlineData("{work}{Worker}{ worker}{}", 1, "{work}{Worker}{ worker}{}")]
    [InlineData("{\"json\": {\"nested\": 1}}", 4, "{\"json\": {\"nested\": 1}}")]
    [InlineData("", 0, "")]
    public void Expand_ReplacesThePlaceholderWithTheSlot_AndTheEscapeWithTheLiteral(string value, int slot, string expected)
        => Assert.Equal(expected, WorkerEnvironment.Expand(value, slot));

    [Theory]
    [InlineData("{worker}", true)]
    [InlineData("gpu{worker}", true)]
    [InlineData("{{worker}}", false)]
    [InlineData("{{worker}} and {worker}", true)]
    [InlineData("plain", false)]
    public void WithoutASlot_AValueNamingItHasNone_AndOthersKeepTheirText(string value, bool namesTheSlot)
    {
        Assert.Equal(namesTheSlot, WorkerEnvironment.UsesSlot(value));
        Assert.Equal(namesTheSlot ? null : value.Replace("{{worker}}", "{worker}", StringComparison.Ordinal), WorkerEnvironment.Expand(value, slot: null));
    }

    [Fact]
    public async Task StartInfo_CarriesEachSlotsValue_AndTheTemplatesHasTheVariableUnset()
    {
        var options = Options("slot-start-info");
        options.Environment["LIFEGUARD_TEST_SLOT"] = "gpu-{worker}";
        options.Environment["LIFEGUARD_TEST_FIXED"] = "same";
        var settings = await PythonWorkerSettings.CreateAsync(options);

        Assert.True(settings.EnvironmentUsesSlot);
        foreach (int slot in new[] { 0, 1, 5, 31 })
        {
            var info = PythonWorker.CreateStartInfo(settings, [], slot);
            Assert.Equal($"gpu-{slot}", info.Environment["LIFEGUARD_TEST_SLOT"]);
            Assert.Equal("same", info.Environment["LIFEGUARD_TEST_FIXED"]);
        }

        var template = PythonWorker.CreateStartInfo(settings, [], slot: null);
        Assert.False(template.Environment.ContainsKey("LIFEGUARD_TEST_SLOT"));
        Assert.Equal("same", template.Environment["LIFEGUARD_TEST_FIXED"]);
    }

    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task AWorkerSeesItsSlotInItsEnvironment(PythonStartMode mode)
    {
        var options = Options("slot-env-" + mode);
        options.StartMode = mode;
        options.Preload.Add("worker_env");
        options.Environment["LIFEGUARD_TEST_SLOT"] = "gpu-{worker}";
        options.Environment["LIFEGUARD_TEST_LITERAL"] = "{{worker}}";
        await using var pool = await PythonPool.StartAsync(options);

        await using var lease = await pool.CheckoutAsync();
        Assert.Equal(mode == PythonStartMode.ForkServer, lease.Worker.IsForked);
        Assert.Equal("gpu-0", await lease.Worker.CallAsync<string>("worker_env", "env", ["LIFEGUARD_TEST_SLOT"]));
        Assert.Equal("{worker}", await lease.Worker.CallAsync<string>("worker_env", "env", ["LIFEGUARD_TEST_LITERAL"]));

        // A spawned worker imports its modules itself, in its own environment; a forked one got them from the template,
        // which is no worker and had the variable unset.
        Assert.Equal(mode == PythonStartMode.Spawn ? "gpu-0" : null, await lease.Worker.CallAsync<string?>("worker_env", "slot_at_import"));
    }

    [Theory]
    [InlineData(PythonStartMode.Spawn)]
    [InlineData(PythonStartMode.ForkServer)]
    public async Task EachWorkerSeesItsOwnSlot_AndAReplacementTheSlotOfTheWorkerItReplaced(PythonStartMode mode)
    {
        var options = Options("slot-each-" + mode, size: 3);
        options.StartMode = mode;
        options.Preload.Add("worker_env");
        options.Environment["LIFEGUARD_TEST_SLOT"] = "{worker}";
        await using var pool = await PythonPool.StartAsync(options);

        var seen = new Dictionary<int, string?>();
        await using (var first = await pool.CheckoutAsync())
        await using (var second = await pool.CheckoutAsync())
        await using (var third = await pool.CheckoutAsync())
        {
            foreach (var lease in new[] { first, second, third })
            {
                seen[lease.Worker.ProcessId] = await lease.Worker.CallAsync<string>("worker_env", "env", ["LIFEGUARD_TEST_SLOT"]);
            }
        }

        Assert.Equal(["0", "1", "2"], seen.Values.Order(StringComparer.Ordinal));
        var victim = pool.GetStatus().Workers.Single(w => w.Slot == 1);
        Assert.Equal(WorkerKillResult.Killed, await pool.KillWorkerAsync(victim.Id, "test"));
        await Lifeguard.Testing.FakeWorkerFactory.WaitUntilAsync(
            () => pool.GetStatus() is { Idle: 3 } status && status.Workers.All(w => w.Id != victim.Id),
            "the killed worker is replaced",
            timeoutMs: 60_000);

        var replacement = pool.GetStatus().Workers.Single(w => w.Slot == 1);
        Assert.NotEqual(victim.Id, replacement.Id);
        var byPid = new Dictionary<int, string?>();
        await using (var a = await pool.CheckoutAsync())
        await using (var b = await pool.CheckoutAsync())
        await using (var c = await pool.CheckoutAsync())
        {
            foreach (var lease in new[] { a, b, c })
            {
                byPid[lease.Worker.ProcessId] = await lease.Worker.CallAsync<string>("worker_env", "env", ["LIFEGUARD_TEST_SLOT"]);
            }
        }

        Assert.Equal("1", byPid[(int)replacement.Details["pid"]!]);
    }
}
