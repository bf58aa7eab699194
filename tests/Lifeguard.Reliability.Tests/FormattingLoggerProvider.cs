using Microsoft.Extensions.Logging;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// A logger that formats every message, as a real sink would, and keeps only a count: the long suites exercise the
/// logging path without the test itself holding memory that grows with the run.
/// </summary>
public sealed class FormattingLoggerProvider : ILoggerProvider
{
    private long _messages;

    public long Messages => Interlocked.Read(ref _messages);

    public ILoggerFactory CreateFactory() => LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(this));

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(FormattingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            _ = formatter(state, exception);
            Interlocked.Increment(ref owner._messages);
        }
    }
}
