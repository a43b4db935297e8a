/** An application that uses directmem from the module path. */
module example.consumer {
    requires dev.directmem;
}
