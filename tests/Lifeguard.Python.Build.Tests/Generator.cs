using Lifeguard.Python.Build.Internal;

namespace Lifeguard.Python.Build.Tests;

/// <summary>
/// The generator's stages on Python source, without MSBuild: the real python3 reads it (lifeguard_bindings.py from
/// the task's output), the planner plans, the emitter writes. Each call works in a temporary folder of its own. Thread-safe.
/// </summary>
internal static class Generator
{
    /// <summary>What every module of these tests may use without importing it.</summary>
    public const string Imports = """
        import collections.abc
        import datetime as dt
        import typing
        from dataclasses import dataclass, field
        from datetime import datetime
        from typing import Any, AsyncIterator, Dict, Generator, Iterator, List, Literal, Mapping, NamedTuple, Optional, Sequence, Tuple, TypedDict, Union

        """;

    public static string Python => Environment.GetEnvironmentVariable("LIFEGUARD_PYTHON") is { Length: > 0 } python ? python : "python3";

    public static string Script => Path.Combine(AppContext.BaseDirectory, "lifeguard_bindings.py");

    /// <summary>Reads a module of <paramref name="source"/> (after <see cref="Imports"/>) with python3.</summary>
    public static PyModule Read(string source, bool withImports = true)
    {
        var folder = Directory.CreateTempSubdirectory("lifeguard-bindings-");
        try
        {
            var file = Path.Combine(folder.FullName, "text_stats.py");
            File.WriteAllText(file, (withImports ? Imports : "") + source);
            var reading = PythonModuleReader.Read(Python, Script, [file], out var failure);
            Assert.True(reading is not null, failure);
            return Assert.Single(reading.Modules);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    public static ModulePlan Plan(string source, bool withImports = true, string? @namespace = "Generated")
        => ModulePlanner.Plan(Read(source, withImports), new BindingSettings("text_stats", "TextStats", @namespace, "python", "python/text_stats.py"));

    public static MethodPlan Method(this ModulePlan plan, string python) => plan.Methods.Single(m => m.Function.Name == python);

    public static ParameterPlan Parameter(this MethodPlan method, string python) => method.Parameters.Single(p => p.Source.Name == python);

    public static RecordPlan Record(this ModulePlan plan, string python) => plan.Records.Single(r => r.Source.Name == python);

    public static PropertyPlan Property(this RecordPlan record, string python) => record.Properties.Single(p => p.Source.Name == python);

    /// <summary>The C# type the hint of <c>def f(x: hint)</c> maps to, and the warnings that mapping gave.</summary>
    public static (string Type, IReadOnlyList<BindingDiagnostic> Warnings) MapParameter(string hint)
    {
        var plan = Plan($"def f(x: {hint}) -> None: ...\n");
        return (plan.Method("f").Parameter("x").Type.Code, plan.Diagnostics);
    }

    public static string Shorten(string code) => code
        .Replace("global::System.Collections.Generic.", "", StringComparison.Ordinal)
        .Replace("global::System.Text.Json.", "", StringComparison.Ordinal)
        .Replace("global::System.", "", StringComparison.Ordinal)
        .Replace("global::Generated.", "", StringComparison.Ordinal);
}
