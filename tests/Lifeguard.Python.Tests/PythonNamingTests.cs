using System.Text.Json;

namespace Lifeguard.Python.Tests;

/// <summary>
/// The default wire naming (PascalCase members as Python's snake_case keys, both ways) and strict binding of results,
/// against real python3 workers.
/// </summary>
public sealed class PythonNamingTests : PythonTestBase
{
    [Fact]
    public async Task CallAsync_SnakeCaseResult_BindsToPascalCaseRecord()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-result"));

        var stats = await pool.CallAsync<Stats>("fixtures", "word_stats", ["the cat and the hat"]);

        Assert.Equal(4, stats!.UniqueWords);
        Assert.Equal(["the", "and", "cat"], stats.TopWords);
    }

    [Fact]
    public async Task CallAsync_RecordArgument_ArrivesWithSnakeCaseKeysAndRoundTrips()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-argument"));
        var query = new Query("lifeguard pools", 10, new Stats(2, ["a", "b"]), null);

        var keys = await pool.CallAsync("fixtures", "keys_of", [query]);
        var back = await pool.CallAsync<Query>("fixtures", "echo", [query]);

        Assert.Equal(["search_text", "max_results", "last_stats", "http_status_code"], keys.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["unique_words", "top_words"], keys.GetProperty("last_stats").EnumerateObject().Select(p => p.Name));
        Assert.Equal(query.SearchText, back!.SearchText);
        Assert.Equal(query.MaxResults, back.MaxResults);
        Assert.Equal(query.LastStats.TopWords, back.LastStats.TopWords);
        Assert.Null(back.HttpStatusCode);
    }

    [Fact]
    public async Task CallAsync_MissingMember_ThrowsNamingTypeMemberAndTheKeysPythonSent()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-missing"));
        int pid = await pool.CallAsync<int>("fixtures", "pid");

        // A key spelt the other way is the usual cause: no silent TopWords = null.
        var error = await Assert.ThrowsAsync<PythonSerializationException>(
            () => pool.CallAsync<Stats>("fixtures", "echo", [JsonElement.Parse("""{"unique_words": 5, "topWords": ["a"]}""")]));

        Assert.Contains("fixtures.echo", error.Message);
        Assert.Contains("Stats.TopWords (\"top_words\") is missing from the object at $", error.Message);
        Assert.Contains("had the keys \"unique_words\", \"topWords\".", error.Message);
        Assert.DoesNotContain("UniqueWords", error.Message); // present, so not reported
        Assert.IsType<JsonException>(error.InnerException);
        Assert.Equal(pid, await pool.CallAsync<int>("fixtures", "pid")); // nothing wrong with the worker
    }

    [Fact]
    public async Task CallAsync_SeveralMembersMissingFromAnEmptyObject_NamesEach()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-empty"));

        var error = await Assert.ThrowsAsync<PythonSerializationException>(
            () => pool.CallAsync<Stats>("fixtures", "echo", [JsonElement.Parse("{}")]));

        Assert.Contains("Stats.UniqueWords (\"unique_words\") and Stats.TopWords (\"top_words\") are missing", error.Message);
        Assert.Contains("The Python object at $ had no keys.", error.Message);
    }

    [Theory]
    [InlineData("""{"unique_words": 5, "top_words": null}""", "Stats.TopWords (\"top_words\") is null at $.top_words")]
    [InlineData("""{"unique_words": null, "top_words": []}""", "Stats.UniqueWords (\"unique_words\") is null at $.unique_words")]
    public async Task CallAsync_NullForNonNullableMember_Throws(string json, string expected)
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-null"));

        var error = await Assert.ThrowsAsync<PythonSerializationException>(
            () => pool.CallAsync<Stats>("fixtures", "echo", [JsonElement.Parse(json)]));

        Assert.Contains(expected + ", but it is not nullable.", error.Message);
        Assert.Contains("The Python object at $ had the keys \"unique_words\", \"top_words\".", error.Message);
    }

    [Fact]
    public async Task CallAsync_NullForNullableMembers_AndOptionalMembersLeftOut_Bind()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-optional"));

        var query = await pool.CallAsync<Query>(
            "fixtures", "echo", [JsonElement.Parse("""{"search_text": "x", "max_results": 3, "last_stats": {"unique_words": 0, "top_words": []}, "http_status_code": null}""")]);
        var page = await pool.CallAsync<Page>("fixtures", "echo", [JsonElement.Parse("""{"title": "t"}""")]);

        Assert.Null(query!.HttpStatusCode);
        Assert.Equal("t", page!.Title);
        Assert.Equal(25, page.Size); // a parameter with a default may be left out
        Assert.Null(page.Note); // so may a property that is not required
    }

    [Fact]
    public async Task CallAsync_NestedRecordMissingMember_NamesTheNestedTypeAndPath()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-nested"));

        var nested = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<Query>(
            "fixtures", "echo", [JsonElement.Parse("""{"search_text": "x", "max_results": 3, "last_stats": {"unique_words": 1, "TopWords": []}, "http_status_code": 200}""")]));
        var inList = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<List<Stats>>(
            "fixtures", "echo", [JsonElement.Parse("""[{"unique_words": 1, "top_words": []}, {"unique_words": 2, "top": []}]""")]));

        var inDictionary = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<Dictionary<string, Stats>>(
            "fixtures", "echo", [JsonElement.Parse("""{"a.key": {"top_words": []}}""")]));

        Assert.Contains("could not be read as Query", nested.Message);
        Assert.Contains("Stats.TopWords (\"top_words\") is missing from the object at $.last_stats", nested.Message);
        Assert.Contains("The Python object at $.last_stats had the keys \"unique_words\", \"TopWords\".", nested.Message);
        Assert.Contains("could not be read as List<Stats>", inList.Message);
        Assert.Contains("Stats.TopWords (\"top_words\") is missing from the object at $[1]", inList.Message);
        Assert.Contains("had the keys \"unique_words\", \"top\".", inList.Message);
        Assert.Contains("Stats.UniqueWords (\"unique_words\") is missing from the object at $['a.key']", inDictionary.Message);
        Assert.Contains("The Python object at $['a.key'] had the keys \"top_words\".", inDictionary.Message);
    }

    [Fact]
    public async Task CallAsync_RequiredMemberMissingOrNull_Throws()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-required"));

        var ok = await pool.CallAsync<Labelled>("fixtures", "echo", [JsonElement.Parse("""{"display_label": "x"}""")]);
        var missing = await Assert.ThrowsAsync<PythonSerializationException>(
            () => pool.CallAsync<Labelled>("fixtures", "echo", [JsonElement.Parse("""{"use_count": 2}""")]));
        var isNull = await Assert.ThrowsAsync<PythonSerializationException>(
            () => pool.CallAsync<Labelled>("fixtures", "echo", [JsonElement.Parse("""{"display_label": null}""")]));

        Assert.Equal("x", ok!.DisplayLabel);
        Assert.Equal(0, ok.UseCount); // not required: may be left out
        Assert.Contains("Labelled.DisplayLabel (\"display_label\") is missing from the object at $", missing.Message);
        Assert.Contains("had the keys \"use_count\".", missing.Message);
        Assert.Contains("Labelled.DisplayLabel (\"display_label\") is null at $.display_label, but it is not nullable.", isNull.Message);
    }

    [Fact]
    public async Task CallAsync_ManyKeys_MessageListsTwentyAndCountsThem()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-many"));
        var wide = new Dictionary<string, object?> { ["k" + new string('x', 5000)] = 0 };
        for (int i = 0; i < 30; i++)
        {
            wide[$"key_{i:00}"] = i;
        }

        var error = await Assert.ThrowsAsync<PythonSerializationException>(() => pool.CallAsync<Stats>("fixtures", "echo", [wide]));

        // Each key cut to 64 characters, at most 20 of them.
        Assert.Contains("had 31 keys, the first 20: \"k" + new string('x', 63) + "…\", \"key_00\", ", error.Message);
        Assert.Contains("\"key_18\", …", error.Message);
        Assert.DoesNotContain("key_19", error.Message);
        Assert.True(error.Message.Length < 1000, error.Message);
    }

    [Fact]
    public async Task CallAsync_DictionaryKeysAndKeywordNames_AreSentAsGiven()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-given"));
        var dictionary = new Dictionary<string, object?>
        {
            ["SomeKey"] = 1,
            ["other_key"] = new Dictionary<string, int> { ["InnerKey"] = 2, ["camelKey"] = 3 },
            ["x-y"] = new Stats(1, []), // a record inside a dictionary: its members still snake_case
            ["AsNode"] = System.Text.Json.Nodes.JsonNode.Parse("""{"KeptAsIs": 1}"""),
            ["Anonymous"] = new { PageSize = 1 },
        };

        var keys = await pool.CallAsync("fixtures", "keys_of", [dictionary]);
        var names = await pool.CallAsync<List<string>>(
            "fixtures", "keyword_names", kwargs: new Dictionary<string, object?> { ["UserName"] = 1, ["top_n"] = 2, ["camelCase"] = new Stats(0, []) });
        var result = await pool.CallAsync<Dictionary<string, int>>("fixtures", "echo", [JsonElement.Parse("""{"Some_Key": 1, "camelKey": 2}""")]);

        Assert.Equal(["SomeKey", "other_key", "x-y", "AsNode", "Anonymous"], keys.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["KeptAsIs"], keys.GetProperty("AsNode").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["page_size"], keys.GetProperty("Anonymous").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["InnerKey", "camelKey"], keys.GetProperty("other_key").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["unique_words", "top_words"], keys.GetProperty("x-y").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["UserName", "camelCase", "top_n"], names);
        Assert.Equal(["Some_Key", "camelKey"], result!.Keys);
    }

    [Fact]
    public async Task CallAsync_UsersOwnOptions_AreTakenAsGiven()
    {
        // Web defaults: camelCase both ways, and System.Text.Json's lenient binding, as the user chose.
        var web = Options("naming-web");
        web.JsonSerializerOptions = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        await using var camel = await PythonPool.StartAsync(web);

        var keys = await camel.CallAsync("fixtures", "keys_of", [new Stats(1, [])]);
        var bound = await camel.CallAsync<Stats>("fixtures", "echo", [JsonElement.Parse("""{"uniqueWords": 5, "topWords": ["a"]}""")]);
        var lenient = await camel.CallAsync<Stats>("fixtures", "echo", [JsonElement.Parse("""{"uniqueWords": 5}""")]);

        Assert.Equal(["uniqueWords", "topWords"], keys.EnumerateObject().Select(p => p.Name));
        Assert.Equal(5, bound!.UniqueWords);
        Assert.Equal(["a"], bound.TopWords);
        Assert.Null(lenient!.TopWords);

        // The same naming with strict binding turned on by the user: the message lists the keys as well.
        var strictOptions = Options("naming-web-strict");
        strictOptions.JsonSerializerOptions = new JsonSerializerOptions(JsonSerializerDefaults.Web) { RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true };
        await using var strict = await PythonPool.StartAsync(strictOptions);
        var error = await Assert.ThrowsAsync<PythonSerializationException>(
            () => strict.CallAsync<Stats>("fixtures", "echo", [JsonElement.Parse("""{"unique_words": 5}""")]));
        Assert.Contains("Stats.UniqueWords (\"uniqueWords\") and Stats.TopWords (\"topWords\") are missing", error.Message);
        Assert.Contains("had the keys \"unique_words\".", error.Message);
    }

    [Fact]
    public async Task CallAsync_WrongValueType_NamesTheMemberKeepsSystemTextJsonsMessageAndAddsTheKeys()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-type"));

        var error = await Assert.ThrowsAsync<PythonSerializationException>(
            () => pool.CallAsync<Stats>("fixtures", "echo", [JsonElement.Parse("""{"unique_words": "five", "top_words": []}""")]));

        Assert.Contains("Stats.UniqueWords (\"unique_words\"), of type Int32, could not be read from the string at $.unique_words (The JSON value", error.Message);
        Assert.Contains("The Python object at $ had the keys \"unique_words\", \"top_words\".", error.Message);
    }

    [Fact]
    public async Task CallAsync_UntypedResult_KeepsPythonsKeys()
    {
        await using var pool = await PythonPool.StartAsync(Options("naming-untyped"));

        var raw = await pool.CallAsync("fixtures", "word_stats", ["a b a"]);

        Assert.Equal(["unique_words", "top_words"], raw.EnumerateObject().Select(p => p.Name));
    }

    public sealed record Stats(int UniqueWords, IReadOnlyList<string> TopWords);

    public sealed record Query(string SearchText, int MaxResults, Stats LastStats, int? HttpStatusCode);

    public sealed record Page(string Title, int Size = 25)
    {
        public string? Note { get; init; }
    }

    public sealed class Labelled
    {
        public required string DisplayLabel { get; init; }

        public int UseCount { get; init; }
    }
}
