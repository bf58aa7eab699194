using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Lifeguard.Python.Tests;

/// <summary>The call codec on its own: frames built and read in memory, no process started.</summary>
public sealed class PythonCallCodecTests
{
    private static readonly PythonCallCodec Codec = new(PythonJson.CreateOptions(null, namedFloats: false), "codec");

    [Fact]
    public async Task WriteCall_WritesModuleFunctionArgumentsAndKeywords()
    {
        var frame = await SendCallAsync(["x", 1, null], new Dictionary<string, object?> { ["n"] = 2 });

        Assert.Equal(FrameKind.Call, frame.Kind);
        Assert.Equal(7UL, frame.Id);
        Assert.Equal("""{"m":"mod","f":"fn","a":["x",1,null],"k":{"n":2}}""", Encoding.UTF8.GetString(frame.Json.Span));
        Assert.True(frame.Attachments.IsEmpty);
    }

    [Fact]
    public async Task WriteCall_NoArguments_WritesAnEmptyListAndNoKeywords_AndAsksForSpansOnlyWhenTold()
    {
        Assert.Equal("""{"m":"mod","f":"fn","a":[]}""", Encoding.UTF8.GetString((await SendCallAsync(null, null)).Json.Span));
        Assert.Equal(
            """{"m":"mod","f":"fn","a":[],"sp":true}""",
            Encoding.UTF8.GetString((await SendCallAsync(null, new Dictionary<string, object?>(), spans: true)).Json.Span));
    }

    [Fact]
    public async Task WriteCall_Bytes_BecomeNumberedAttachments()
    {
        var frame = await SendCallAsync([new byte[] { 1, 2, 3 }, "s", Array.Empty<byte>()], null);

        Assert.Equal("""{"m":"mod","f":"fn","a":[{"$bytes":0},"s",{"$bytes":1}]}""", Encoding.UTF8.GetString(frame.Json.Span));
        Assert.Equal(new byte[] { 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0 }, frame.Attachments.ToArray());
    }

    [Fact]
    public void WriteCall_NonFiniteNumber_NamesThePositionAndTheOption()
    {
        var writer = new FrameWriter(Stream.Null, 64 * 1024);

        var error = Assert.Throws<PythonSerializationException>(() => Codec.WriteCall(writer, "mod", "fn", [1, double.NaN], null, spans: false));

        Assert.Contains("The arguments of mod.fn could not be serialised to JSON: positional argument 1 (Double): NaN is not a JSON number", error.Message);
        Assert.Contains("AllowNamedFloatingPointLiterals", error.Message);
        Assert.Equal("codec", error.PoolName);
    }

    [Fact]
    public void WriteCall_ThrowingGetter_NamesTheKeywordAndKeepsTheCause()
    {
        var writer = new FrameWriter(Stream.Null, 64 * 1024);

        var error = Assert.Throws<PythonSerializationException>(
            () => Codec.WriteCall(writer, "mod", "fn", null, new Dictionary<string, object?> { ["bad"] = new Throwing() }, spans: false));

        Assert.Contains("keyword argument 'bad' (Throwing): getter failed", error.Message);
        Assert.IsType<FormatException>(error.InnerException);
    }

    [Fact]
    public void WriteCall_PastTheMaximumFrameSize_IsTooLargeAndNamesTheMaximum()
    {
        var writer = new FrameWriter(Stream.Null, 1024);

        var error = Assert.Throws<PythonSerializationException>(() => Codec.WriteCall(writer, "mod", "fn", [new string('x', 2000)], null, spans: false));

        Assert.Equal(
            "The arguments of mod.fn take more than 1024 bytes, the maximum frame size of pool 'codec' (PythonPoolOptions.MaxFrameSize); nothing was sent.",
            error.Message);
    }

    [Fact]
    public void ReadResult_Typed_BindsTheValueAndItsAttachments()
    {
        var frame = Result("""{"name":"a","data":{"$bytes":0}}""", [5, 6]);

        var value = Codec.ReadResult(frame, 0, static (f, _) => JsonSerializer.Deserialize<Blob>(f.Json.Span, Codec.Json), "mod.fn");

        Assert.Equal("a", value!.Name);
        Assert.Equal(new byte[] { 5, 6 }, value.Data);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"name\": ")]
    [InlineData("{} {}")]
    [InlineData("NaN")]
    public void ReadResult_NotWellFormedJson_IsAMalformedReply(string json)
    {
        var error = Assert.Throws<MalformedReplyException>(
            () => Codec.ReadResult(Result(json), 0, static (f, _) => JsonSerializer.Deserialize<Blob>(f.Json.Span, Codec.Json), "mod.fn"));

        Assert.StartsWith("the result of mod.fn is not valid JSON (", error.Message);
        Assert.IsAssignableFrom<JsonException>(error.InnerException);
    }

    [Fact]
    public void ReadResult_WellFormedOfAnotherShape_IsASerializationErrorNamingTheMember()
    {
        var error = Assert.Throws<PythonSerializationException>(
            () => Codec.ReadResult(Result("""{"nom":"a"}"""), Codec.Json.GetTypeInfo(typeof(Blob)), static (f, t) => JsonSerializer.Deserialize(f.Json.Span, t), "mod.fn"));

        Assert.StartsWith("The result of mod.fn could not be read as", error.Message);
        Assert.Contains("\"nom\"", error.Message);
        Assert.IsType<JsonException>(error.InnerException);
    }

    [Fact]
    public void ReadResult_ResultTypeThatRefusesTheValue_IsASerializationError()
    {
        var error = Assert.Throws<PythonSerializationException>(
            () => Codec.ReadResult<int, int>(Result("1"), 0, static (_, _) => throw new ArgumentOutOfRangeException(null, "too small"), "mod.fn"));

        Assert.Contains("too small", error.Message);
        Assert.IsType<ArgumentOutOfRangeException>(error.InnerException);
    }

    [Fact]
    public void ReadUntyped_InlinesBytesAsBase64_AtAnyDepth()
    {
        var frame = Result("""{"a":[{"$bytes":1}],"b":{"c":{"$bytes":0}},"d":{"$bytes":"x"}}""", [1], [2, 3]);

        var element = Codec.ReadResult(frame, Codec, static (f, c) => c.ReadUntyped(f), "mod.fn");

        Assert.Equal("AgM=", element.GetProperty("a")[0].GetString());
        Assert.Equal("AQ==", element.GetProperty("b").GetProperty("c").GetString());
        Assert.Equal("x", element.GetProperty("d").GetProperty("$bytes").GetString()); // not an index: left as it is
    }

    [Theory]
    [InlineData("""{"$bytes":1}""", "points at no attachment (1 in the frame)")]
    [InlineData("""[{"$bytes":0},{"$bytes":0}]""", "already read")]
    [InlineData("""{"$bytes":-1}""", "points at no attachment")]
    public void ReadUntyped_BadReference_IsAProtocolError(string json, string expected)
    {
        var error = Assert.Throws<PythonProtocolException>(
            () => Codec.ReadResult(Result(json, [9]), Codec, static (f, c) => c.ReadUntyped(f), "mod.fn"));

        Assert.Contains(expected, error.Message);
        Assert.Null(error.PoolName); // the worker names its pool as it reports the violation
    }

    [Fact]
    public void ReadUntyped_ReferenceInAFrameWithoutAttachments_IsAProtocolError()
    {
        var error = Assert.Throws<PythonProtocolException>(
            () => Codec.ReadResult(Result("""{"$bytes":0}"""), Codec, static (f, c) => c.ReadUntyped(f), "mod.fn"));

        Assert.Contains("points at no attachment (0 in the frame)", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0 }, "An attachment header overruns its frame.")]
    [InlineData(new byte[] { 0, 0, 0, 9, 1 }, "An attachment overruns its frame.")]
    public void ReadUntyped_AttachmentsOverrunningTheFrame_AreAProtocolError(byte[] attachments, string expected)
    {
        var frame = new Frame(FrameKind.Result, 1, Encoding.UTF8.GetBytes("""{"$bytes":0}"""), attachments);

        var error = Assert.Throws<PythonProtocolException>(() => Codec.ReadResult(frame, Codec, static (f, c) => c.ReadUntyped(f), "mod.fn"));

        Assert.Equal(expected, error.Message);
    }

    [Fact]
    public void ReadUntyped_TrailingData_Throws()
        => Assert.ThrowsAny<JsonException>(() => Codec.ReadUntyped(Result("1 2")));

    [Fact]
    public void ReadError_ReadsEveryField_AndDefaultsTheOptionalOnes()
    {
        var full = PythonCallCodec.ReadError(Result("""{"kind":"raised","type":"ValueError","message":"bad","traceback":"tb"}"""));
        var bare = PythonCallCodec.ReadError(Result("""{"type":"KeyError","message":"k"}"""));

        Assert.Equal(new ErrorReply("raised", "ValueError", "bad", "tb"), full);
        Assert.Equal(new ErrorReply("", "KeyError", "k", ""), bare);
    }

    [Theory]
    [InlineData("""{"message":"m"}""")]
    [InlineData("""{"type":null,"message":"m"}""")]
    [InlineData("""{"type":1,"message":"m"}""")]
    [InlineData("[]")]
    [InlineData("{")]
    public void ReadError_Malformed_IsAProtocolError(string json)
    {
        var error = Assert.Throws<PythonProtocolException>(() => PythonCallCodec.ReadError(Result(json)));

        Assert.StartsWith("The worker sent an error frame that is not {\"type\": string, \"message\": string, ...}", error.Message);
    }

    [Fact]
    public void ReadCallbackRequest_ReadsTheNameAndArguments_WithBytesInlined()
    {
        var (name, args) = Codec.ReadCallbackRequest(Result("""{"n":"lookup","a":[1,{"$bytes":0}]}""", [7]));

        Assert.Equal("lookup", name);
        Assert.Equal(2, args.Count);
        Assert.Equal(1, args[0].GetInt32());
        Assert.Equal("Bw==", args[1].GetString());
    }

    [Theory]
    [InlineData("""{"a":[]}""")]
    [InlineData("""{"n":"x"}""")]
    [InlineData("""{"n":"x","a":1}""")]
    [InlineData("""{"n":1,"a":[]}""")]
    [InlineData("not json")]
    public void ReadCallbackRequest_Malformed_IsAProtocolError(string json)
    {
        var error = Assert.Throws<PythonProtocolException>(() => Codec.ReadCallbackRequest(Result(json)));

        Assert.StartsWith("a callback request that is not {\"n\": name, \"a\": [args]}", error.Message);
    }

    [Fact]
    public async Task WriteCallbackResult_WritesTheValue_OrReturnsTheErrorToAnswerWith()
    {
        var stream = new MemoryStream();
        var writer = new FrameWriter(stream, 1024);

        Assert.Null(Codec.WriteCallbackResult(writer, "cb", new Dictionary<string, object?> { ["b"] = new byte[] { 1 } }));
        await writer.SendAsync(FrameKind.CallbackResult, 3, CancellationToken.None);
        var sent = await ReadBackAsync(stream);
        Assert.Equal("""{"b":{"$bytes":0}}""", Encoding.UTF8.GetString(sent.Json.Span));

        var tooLarge = Codec.WriteCallbackResult(writer, "cb", new string('x', 2000));
        Assert.Equal(
            "The result of host callback 'cb' takes more than 1024 bytes, the maximum frame size (PythonPoolOptions.MaxFrameSize).",
            tooLarge!.Message);

        var refused = Codec.WriteCallbackResult(writer, "cb", new Throwing());
        Assert.Equal("The result of host callback 'cb' could not be serialised: getter failed", refused!.Message);
    }

    [Fact]
    public async Task WriteCallbackError_CutsTheTypeAndMessageShort()
    {
        var stream = new MemoryStream();
        var writer = new FrameWriter(stream, 64 * 1024);

        PythonCallCodec.WriteCallbackError(writer, new string('T', 300), new string('m', 600));
        await writer.SendAsync(FrameKind.CallbackError, 4, CancellationToken.None);

        using var sent = JsonDocument.Parse((await ReadBackAsync(stream)).Json);
        Assert.Equal(new string('T', PythonCallCodec.MaxCallbackErrorType), sent.RootElement.GetProperty("type").GetString());
        Assert.Equal(new string('m', PythonCallCodec.MaxCallbackErrorMessage) + "…", sent.RootElement.GetProperty("message").GetString());
    }

    [Fact]
    public void ArgumentsForMessage_ShortArguments_AreTheirJson()
        => Assert.Equal("""[1,"a",null,[true]]""", Codec.ArgumentsForMessage([1, "a", null, new[] { true }]));

    [Theory]
    [InlineData(1, 150)] // past 200 characters once quoted
    [InlineData(2, 99)]
    [InlineData(20_000, 4)] // past the fixed buffer: the serialisation is stopped, not finished
    public void ArgumentsForMessage_LongArguments_AreCutAt200Characters(int count, int length)
    {
        var args = Enumerable.Range(0, count).Select(_ => (object?)new string('x', length)).Append(new string('y', 100)).ToList();

        var text = Codec.ArgumentsForMessage(args);

        Assert.Equal(PythonCallCodec.MaxArgumentText + 1, text.Length);
        Assert.StartsWith("[\"xxx", text);
        Assert.EndsWith("…", text);
    }

    [Fact]
    public void ArgumentsForMessage_ExactlyTheLimit_IsNotCut()
    {
        var text = Codec.ArgumentsForMessage([new string('x', PythonCallCodec.MaxArgumentText - 4)]);

        Assert.Equal(PythonCallCodec.MaxArgumentText, text.Length);
        Assert.EndsWith("\"]", text);
    }

    [Fact]
    public void ArgumentsForMessage_ThrowingArgument_LeavesThemOut()
        => Assert.Equal("arguments not shown: reading them again threw FormatException", Codec.ArgumentsForMessage([new Throwing()]));

    [Theory]
    [InlineData("{}", true)]
    [InlineData("[1,[2,{\"a\":null}]]", true)]
    [InlineData("1 2", false)]
    [InlineData("", false)]
    [InlineData("{", false)]
    [InlineData("[1,]", false)]
    public void IsWellFormed_TellsJsonFromNot(string json, bool expected)
        => Assert.Equal(expected, PythonCallCodec.IsWellFormed(Encoding.UTF8.GetBytes(json)));

    private static async Task<Frame> SendCallAsync(IReadOnlyList<object?>? args, IReadOnlyDictionary<string, object?>? kwargs, bool spans = false)
    {
        var stream = new MemoryStream();
        var writer = new FrameWriter(stream, 64 * 1024);
        Codec.WriteCall(writer, "mod", "fn", args, kwargs, spans);
        await writer.SendAsync(FrameKind.Call, 7, CancellationToken.None);
        return await ReadBackAsync(stream);
    }

    /// <summary>Reads the one frame written to the stream, as a worker would; its memory outlives the reader here.</summary>
    private static async Task<Frame> ReadBackAsync(MemoryStream stream)
    {
        stream.Position = 0;
        using var reader = new FrameReader(stream, 64 * 1024);
        var frame = await reader.ReadAsync(CancellationToken.None) ?? throw new InvalidOperationException("no frame written");
        return new Frame(frame.Kind, frame.Id, frame.Json.ToArray(), frame.Attachments.ToArray());
    }

    /// <summary>A result frame with the JSON and attachments, laid out as the wire carries them (u32 length, bytes).</summary>
    private static Frame Result(string json, params byte[][] attachments)
    {
        var section = new MemoryStream();
        foreach (var attachment in attachments)
        {
            var length = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)attachment.Length);
            section.Write(length);
            section.Write(attachment);
        }

        return new Frame(FrameKind.Result, 1, Encoding.UTF8.GetBytes(json), section.ToArray());
    }

    private sealed record Blob(string Name, byte[] Data);

    private sealed class Throwing
    {
        public int Value => throw new FormatException("getter failed");
    }
}
