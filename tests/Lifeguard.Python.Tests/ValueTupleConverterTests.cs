using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lifeguard.Python.Tests;

/// <summary><see cref="ValueTupleConverterFactory"/> in the pool's serializer options, in memory: no process started.</summary>
public sealed class ValueTupleConverterTests
{
    private static readonly JsonSerializerOptions Pool = PythonJson.CreateOptions(null, namedFloats: false);

    [Fact]
    public void Serialize_TuplesOfEveryArity_AreArraysAndReadBack()
    {
        RoundTrip(ValueTuple.Create(1), "[1]");
        RoundTrip((1, "b"), """[1,"b"]""");
        RoundTrip((1, 2, 3), "[1,2,3]");
        RoundTrip((1, 2, 3, 4), "[1,2,3,4]");
        RoundTrip((1, 2, 3, 4, 5), "[1,2,3,4,5]");
        RoundTrip((1, 2, 3, 4, 5, 6), "[1,2,3,4,5,6]");
        RoundTrip((1, 2, 3, 4, 5, 6, 7), "[1,2,3,4,5,6,7]");
        RoundTrip((1, 2, 3, 4, 5, 6, 7, "eight"), """[1,2,3,4,5,6,7,"eight"]"""); // Rest holds the 8th
        RoundTrip((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]");
    }

    [Fact]
    public void Serialize_Items_GoThroughTheOptionsConverters()
    {
        var value = (new Sample("a", 2), new byte[] { 1 }, (string?)null, new[] { (1, 2) }, (DateTimeOffset?)null);
        string json = JsonSerializer.Serialize(value, Pool);
        Assert.Equal("""[{"label_text":"a","top_n":2},"AQ==",null,[[1,2]],null]""", json); // base64: outside a frame
        var back = JsonSerializer.Deserialize<(Sample, byte[], string?, (int, int)[], DateTimeOffset?)>(json, Pool);
        Assert.Equal(new Sample("a", 2), back.Item1);
        Assert.Equal([1], back.Item2);
        Assert.Equal((1, 2), Assert.Single(back.Item4));
    }

    [Fact]
    public void Serialize_NullableTupleAndTupleInARecord()
    {
        Assert.Equal("null", JsonSerializer.Serialize<(int, int)?>(null, Pool));
        Assert.Null(JsonSerializer.Deserialize<(int, int)?>("null", Pool));
        Assert.Equal("""{"pair":[1,"x"]}""", JsonSerializer.Serialize(new Holder((1, "x")), Pool));
        Assert.Equal(new Holder((3, "y")), JsonSerializer.Deserialize<Holder>("""{"pair":[3,"y"]}""", Pool));
    }

    [Theory]
    [InlineData("[1]", "Expected a JSON array of 2 items for (Int32, String), found 1.")]
    [InlineData("""[1,"a",2]""", "Expected a JSON array of 2 items for (Int32, String), found more.")]
    [InlineData("""{"Item1":1}""", "Expected a JSON array of 2 items for (Int32, String), found an object.")]
    [InlineData("null", "Expected a JSON array of 2 items for (Int32, String), found null.")]
    public void Deserialize_NotAnArrayOfTheArity_JsonExceptionNamingTheTuple(string json, string message)
    {
        var error = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<(int, string)>(json, Pool));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Deserialize_WrongItemType_JsonException()
        => Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<(int, string)>("""["one","a"]""", Pool));

    [Fact]
    public void CreateOptions_UserOptions_TuplesAreArraysInTheCopy_TheUsersInstanceUntouched_TheirOwnConverterWins()
    {
        var user = new JsonSerializerOptions(JsonSerializerDefaults.Web) { IncludeFields = true };
        var copy = PythonJson.CreateOptions(user, namedFloats: false);
        Assert.Equal("""[1,"b"]""", JsonSerializer.Serialize((1, "b"), copy));
        Assert.Empty(user.Converters);
        Assert.False(user.IsReadOnly);
        Assert.Equal("""{"item1":1,"item2":"b"}""", JsonSerializer.Serialize((1, "b"), user)); // theirs as they made it

        var theirs = new JsonSerializerOptions { Converters = { new PairAsText() } };
        var withTheirs = PythonJson.CreateOptions(theirs, namedFloats: false);
        Assert.Equal("\"1/b\"", JsonSerializer.Serialize((1, "b"), withTheirs));
        Assert.Equal("[1,2]", JsonSerializer.Serialize((1, 2), withTheirs)); // other tuple types: ours
    }

    private static void RoundTrip<T>(T value, string json)
    {
        Assert.Equal(json, JsonSerializer.Serialize(value, Pool));
        Assert.Equal(value, JsonSerializer.Deserialize<T>(json, Pool));
        Assert.Equal(json, JsonSerializer.Serialize<object?>(value, Pool)); // as an argument is written: its runtime type
    }

    public sealed record Sample([property: JsonPropertyName("label_text")] string Label, int TopN);

    public sealed record Holder((int, string) Pair);

    private sealed class PairAsText : JsonConverter<(int, string)>
    {
        public override (int, string) Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
            => throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, (int, string) value, JsonSerializerOptions options)
            => writer.WriteStringValue($"{value.Item1}/{value.Item2}");
    }
}
