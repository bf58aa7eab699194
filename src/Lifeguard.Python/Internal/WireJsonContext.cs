using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Lifeguard.Python;

/// <summary>Source-generated metadata for the types the wire itself uses, so they work in trimmed and AOT apps.</summary>
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(byte[]))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(IReadOnlyList<object?>))]
internal sealed partial class WireJsonContext : JsonSerializerContext;
