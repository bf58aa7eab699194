using System.Security.Cryptography;
using System.Text;
using Lifeguard.Python.Bindings.Tests.Renamed;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lifeguard.Python.Bindings.Tests;

/// <summary>The generated methods called against a real pool of python3 workers.</summary>
public sealed class GeneratedCallTests(PoolFixture fixture) : IClassFixture<PoolFixture>
{
    private readonly TextStats _stats = new(fixture.Pool);
    private readonly Signatures _signatures = new(fixture.Pool);

    [Fact]
    public async Task Analyze_returns_its_TypedDict_as_a_record_and_applies_the_default()
    {
        var stats = await _stats.AnalyzeAsync("the cat and the hat and the bat sat");

        Assert.Equal(6, stats.UniqueWords);
        Assert.Equal(["the", "and", "bat", "cat", "hat"], stats.TopWords);
        Assert.Equal(["the"], (await _stats.AnalyzeAsync("the cat the", top: 1)).TopWords);
    }

    [Fact]
    public async Task A_record_goes_to_Python_as_its_dict_and_comes_back_inside_another()
    {
        var joined = await _signatures.JoinAsync(["a", "b", "c"], new Options(Separator: "-", Upper: true));

        Assert.Equal("A-B-C", joined.Text);
        Assert.Equal(3, joined.Count);
        Assert.Equal(new Options("-", true), joined.Options);
    }

    [Fact]
    public async Task A_null_member_of_a_total_False_TypedDict_is_left_out_so_Python_applies_its_own_default()
    {
        var joined = await _signatures.JoinAsync(["a", "b"], new Options());

        Assert.Equal("a b", joined.Text);
        Assert.Equal(new Options(), joined.Options);
    }

    [Fact]
    public async Task Literal_defaults_are_passed_as_the_csharp_defaults()
    {
        var values = await _signatures.DefaultsAsync(1);

        Assert.Equal(1, values["a"].GetInt64());
        Assert.Equal(2, values["b"].GetInt64());
        Assert.Equal(0.5, values["c"].GetDouble());
        Assert.Equal("d", values["d"].GetString());
        Assert.True(values["e"].GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, values["f"].ValueKind);
        var given = await _signatures.DefaultsAsync(1, 20, 3.5, "x", false, "y");
        Assert.Equal([1.0, 20, 3.5], [given["a"].GetDouble(), given["b"].GetDouble(), given["c"].GetDouble()]);
        Assert.Equal("y", given["f"].GetString());
    }

    [Fact]
    public async Task A_nullable_parameter_for_a_default_that_is_no_literal_is_not_passed_when_null()
    {
        Assert.Equal(["value missing", "label missing"], await _signatures.DescribeAsync());
        Assert.Equal(["value 7", "label missing"], await _signatures.DescribeAsync(7));
        Assert.Equal(["value missing", "label x"], await _signatures.DescribeAsync(label: "x"));
    }

    [Fact]
    public async Task Positional_only_and_keyword_only_parameters_reach_Python_as_it_declares_them()
    {
        Assert.Equal(13.0, await _signatures.ScaleAsync(5, 2.0, offset: 3));
        Assert.Equal(10.0, await _signatures.ScaleAsync(5));
        Assert.Equal(["a", "no b", "c"], await _signatures.PickAsync("a"));
        Assert.Equal(["a", "x,y", "z"], await _signatures.PickAsync("a", ["x", "y"], "z"));

        // c is positional-only after b, which may be left out: it cannot be passed without b.
        var error = await Assert.ThrowsAsync<ArgumentException>(() => _signatures.PickAsync("a", c: "z"));
        Assert.Equal("c", error.ParamName);
    }

    [Fact]
    public async Task Bytes_travel_as_bytes_both_ways()
    {
        var data = Encoding.UTF8.GetBytes("lifeguard");

        Assert.Equal(SHA256.HashData(data), await _signatures.DigestAsync(data));
        Assert.Equal(MD5.HashData(data), await _signatures.DigestAsync(data, "md5"));
    }

    [Fact]
    public async Task Optional_results_may_be_null_and_a_None_where_the_hint_promises_a_value_is_an_error()
    {
        Assert.Equal("beta", await _signatures.FindAsync(["alpha", "beta"], "b"));
        Assert.Null(await _signatures.FindAsync(["alpha"], "z"));

        var error = await Assert.ThrowsAsync<PythonSerializationException>(() => _signatures.BrokenPromiseAsync());
        Assert.Contains("signatures.broken_promise gave None", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task None_returns_are_tasks_async_defs_are_awaited_and_dictionaries_keep_their_keys()
    {
        await _signatures.RecordAsync("first line");
        Assert.Contains("first line", await _signatures.RecordedAsync());
        Assert.Equal(42, await _signatures.LaterAsync(41));
        Assert.Equal(new Dictionary<string, long> { ["a"] = 2, ["b"] = 1 }, await _signatures.CountsAsync(["a", "b", "a"]));
    }

    [Fact]
    public async Task Keywords_are_escaped_in_csharp_and_unannotated_values_are_any_JSON()
    {
        Assert.Equal("start 3 True", await _signatures.KeywordsAsync("start", 3, @default: true));
        var echoed = await _signatures.EchoAsync(System.Text.Json.JsonSerializer.SerializeToElement(new[] { 1, 2 }));
        Assert.Equal("[1,2]", echoed.GetRawText());
    }

    [Fact]
    public async Task Per_call_options_and_the_token_reach_the_pool()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _stats.AnalyzeAsync("a b", cancellationToken: cancelled.Token));
        var invalid = new PythonCallOptions { MaxRetries = -1 };
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _stats.AnalyzeAsync("a b", options: invalid));
    }

    [Fact]
    public async Task A_renamed_module_is_called_by_its_Module_name_and_its_JSON_hints_take_any_value()
    {
        var renamed = new RenamedFixture(fixture.Pool);

        Assert.Equal("renamed_fixture", await renamed.NameAsync());
        Assert.Equal("the second", await renamed.Name2Async());
        Assert.Equal("str", await renamed.EitherAsync(System.Text.Json.JsonSerializer.SerializeToElement("x")));
        Assert.Equal(0, await renamed.TotalAsync());
    }

    [Fact]
    public async Task A_host_injects_the_bindings_of_a_module_over_its_python_pool()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddLifeguard()
            .AddPythonPool("stats", options =>
            {
                options.Size = 1;
                options.ModulePaths.Add(TextStats.ModulePath);
            })
            .AddPythonModule<ITextStats, TextStats>("stats");
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host.StartAsync(timeout.Token);
        try
        {
            var stats = host.Services.GetRequiredService<ITextStats>();

            Assert.Same(stats, host.Services.GetRequiredKeyedService<ITextStats>("stats"));
            Assert.Equal(2, (await stats.AnalyzeAsync("one two one", cancellationToken: timeout.Token)).UniqueWords);
        }
        finally
        {
            await host.StopAsync(timeout.Token);
        }
    }
}
