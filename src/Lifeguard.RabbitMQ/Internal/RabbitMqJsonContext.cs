using System.Text.Json.Serialization;

namespace Lifeguard.RabbitMQ;

/// <summary>The JSON of the status and stream-end messages, generated at build time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(RemoteHostStatus))]
[JsonSerializable(typeof(StreamEnd))]
internal sealed partial class RabbitMqJsonContext : JsonSerializerContext;
