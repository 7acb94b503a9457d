# The multiprocessing toolbox: Process, Queue, Pipe, locks, Value/Array, SharedMemory, Manager.
set(SHOAL_MP_SOURCES
)
