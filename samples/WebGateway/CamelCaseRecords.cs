using System.CodeDom.Compiler;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Samples.WebGateway;

/// <summary>
/// The HTTP API's names for the optimiser's records. The build generates them from optimizer.py's TypedDicts with
/// Python's names for the pool (<c>[JsonPropertyName("ready_at")]</c>), which win over any naming policy; the HTTP
/// API speaks ASP.NET Core's camelCase instead (<c>readyAt</c>), so this modifier of the app's JSON options names each
/// member of a generated record by its C# name in camelCase. Other types keep their names. Stateless.
/// </summary>
public static class CamelCaseRecords
{
    public static void Apply(JsonTypeInfo type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (type.Kind != JsonTypeInfoKind.Object
            || type.Type.GetCustomAttribute<GeneratedCodeAttribute>() is not { Tool: "Lifeguard.Python.Build" })
        {
            return;
        }

        foreach (var property in type.Properties)
        {
            if (property.AttributeProvider is MemberInfo member)
            {
                property.Name = JsonNamingPolicy.CamelCase.ConvertName(member.Name);
            }
        }
    }
}
