"""The device lifecycle both executors share: it carries out a plan's steps on the devices
and turns what each DeviceClient wants into calls on the executor's transport."""
