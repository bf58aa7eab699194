using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Lifeguard.Python;

/// <summary>
/// The call and stream surface of a pool of Python workers: what generated bindings and application code depend on,
/// whether the pool is local (<see cref="PythonPool"/>) or spans machines. Thread-safe.
/// </summary>
/// <remarks>
/// Every overload takes an optional <see cref="PythonCallOptions"/>, placed before the
/// <see cref="CancellationToken"/>; where a field is unset, the pool's options apply. Arguments and results cross the
/// wire as JSON under the pool's serializer options (snake_case members by default), with <c>byte[]</c> as binary
/// attachments.
/// </remarks>
public interface IPythonCaller
{
    /// <summary>The pool's name.</summary>
    string Name { get; }

    /// <summary>
    /// Calls <c>module.function(*args, **kwargs)</c> in a worker and deserialises the result as <typeparamref name="T"/>.
    /// A generator function's items come back as one list, drained in the worker.
    /// </summary>
    /// <param name="module">The module to call into.</param>
    /// <param name="function">The function's name; an <c>async def</c> is awaited.</param>
    /// <param name="args">The positional arguments, as one list; <see langword="null"/> for none.</param>
    /// <param name="kwargs">The keyword arguments; <see langword="null"/> for none.</param>
    /// <param name="options">This call's own options; <see langword="null"/>, or a field left unset, for the pool's.</param>
    /// <param name="cancellationToken">Cancels the wait for a worker, or interrupts the call.</param>
    Task<T?> CallAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>As <see cref="CallAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, PythonCallOptions?, CancellationToken)"/>, reading the result with <paramref name="resultType"/> (trimming- and AOT-safe).</summary>
    Task<T?> CallAsync<T>(
        string module,
        string function,
        JsonTypeInfo<T> resultType,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>As the typed overloads, returning the result as a <see cref="JsonElement"/>.</summary>
    Task<JsonElement> CallAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Calls a generator function (or an async generator) and yields its items one by one as it produces them, each
    /// deserialised as <typeparamref name="T"/>. The worker runs at most <see cref="PythonCallOptions.StreamWindow"/>
    /// items ahead of the enumeration; one worker is held until the enumeration is disposed.
    /// </summary>
    /// <remarks>
    /// <see cref="PythonCallOptions.CallTimeout"/> bounds the wait for each next item; the token bounds the whole
    /// stream. Ending the enumeration early (<c>break</c>, or the token) closes the generator in Python, so its
    /// <c>finally</c> blocks run. An exception the generator raises arrives after the items it yielded before it.
    /// A stream is never retried.
    /// </remarks>
    /// <param name="module">The module to call into.</param>
    /// <param name="function">The generator function's name.</param>
    /// <param name="args">The positional arguments, as one list; <see langword="null"/> for none.</param>
    /// <param name="kwargs">The keyword arguments; <see langword="null"/> for none.</param>
    /// <param name="options">This stream's own options; <see langword="null"/>, or a field left unset, for the pool's.</param>
    /// <param name="cancellationToken">Ends the stream: the generator is closed, and the enumeration throws <see cref="OperationCanceledException"/>.</param>
    IAsyncEnumerable<T?> StreamAsync<T>(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>As <see cref="StreamAsync{T}(string, string, IReadOnlyList{object?}?, IReadOnlyDictionary{string, object?}?, PythonCallOptions?, CancellationToken)"/>, reading each item with <paramref name="itemType"/> (trimming- and AOT-safe).</summary>
    IAsyncEnumerable<T?> StreamAsync<T>(
        string module,
        string function,
        JsonTypeInfo<T> itemType,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>As the typed stream overloads, yielding each item as a <see cref="JsonElement"/>.</summary>
    IAsyncEnumerable<JsonElement> StreamAsync(
        string module,
        string function,
        IReadOnlyList<object?>? args = null,
        IReadOnlyDictionary<string, object?>? kwargs = null,
        PythonCallOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>A snapshot of the pool: its workers, their states, the callers waiting.</summary>
    PoolStatus GetStatus();
}
